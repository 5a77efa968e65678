/* tca_ctl(): the control name tree (see tcarena(3) and the README). */
#ifndef TCA_CTL_H
#define TCA_CTL_H

#include "pageheap/common.h"

#endif
