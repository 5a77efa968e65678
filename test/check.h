/* The tests' one helper: CHECK(cond) prints the failing condition with its
 * file and line and exits 1; a test passes by returning 0 from main and is
 * skipped (meson's convention) by exiting 77. */
#ifndef TCA_TEST_CHECK_H
#define TCA_TEST_CHECK_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

#define SKIP(why)                                   \
    do {                                            \
        fprintf(stderr, "skipped: %s\n", why);      \
        exit(77);                                   \
    } while (0)

/* Runs fn(arg) in a forked child and checks that it dies of SIGABRT after
 * writing exactly one line to stderr: "tcarena: <what...> 0x<ptr>...".
 * what NULL accepts any wording (a double free may read as an invalid one). */
static inline void check_aborts(void (*fn)(void *), void *arg, const char *what, const void *ptr)
{
    int out[2];
    CHECK(pipe(out) == 0);
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        dup2(out[1], STDERR_FILENO);
        fn(arg);
        _exit(0);
    }
    close(out[1]);
    char text[512] = "";
    size_t len = 0;
    for (ssize_t n; len < sizeof text - 1 && (n = read(out[0], text + len, sizeof text - 1 - len)) > 0;)
        len += (size_t)n;
    close(out[0]);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    char address[32];
    snprintf(address, sizeof address, "%p", ptr);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT || strncmp(text, "tcarena: ", 9) ||
        strchr(text, '\n') != text + len - 1 || (what && !strstr(text, what)) || !strstr(text, address)) {
        fprintf(stderr, "expected an abort with one line \"tcarena: %s %s\"; child status 0x%x, stderr: %s\n",
                what ? what : "...", address, status, text);
        exit(1);
    }
}

#endif
