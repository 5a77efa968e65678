/* Loaded by dlopen_first: any module nothing else loads will do. */
int topology_test_module_answer(void);
int topology_test_module_answer(void) { return 42; }
