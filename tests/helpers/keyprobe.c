/* The keyring probe of tests/security.rs.
 *   keyprobe run NAME DATA -- PROGRAM ARGS...
 *       join a new session keyring holding a "user" key NAME = DATA, then exec PROGRAM
 *       (as host root would hold a secret in the session it runs hako from)
 *   keyprobe find NAME
 *       search the caller's session keyring for the "user" key NAME; print "found DATA",
 *       or the errno's name
 * Raw system calls: the container has no libkeyutils. Built by the test (gcc -static). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_READ 11
#define KEYCTL_SEARCH 10

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "run") && !strcmp(argv[4], "--")) {
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "hako-keyprobe") < 0) {
            perror("keyprobe: join a session keyring");
            return 2;
        }
        if (syscall(SYS_add_key, "user", argv[2], argv[3], strlen(argv[3]),
                    KEY_SPEC_SESSION_KEYRING) < 0) {
            perror("keyprobe: add_key");
            return 2;
        }
        execv(argv[5], argv + 5);
        perror("keyprobe: exec");
        return 2;
    }
    if (argc == 3 && !strcmp(argv[1], "find")) {
        long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", argv[2], 0);
        if (id < 0) {
            printf("%s\n", errno == ENOKEY ? "ENOKEY" : errno == ENOSYS ? "ENOSYS"
                           : errno == EPERM ? "EPERM" : strerror(errno));
            return 0;
        }
        char buf[256] = {0};
        long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf - 1);
        printf("found %s\n", n >= 0 ? buf : "(unreadable)");
        return 0;
    }
    fprintf(stderr, "usage: keyprobe run NAME DATA -- PROGRAM ARGS... | keyprobe find NAME\n");
    return 2;
}
