/* The TIOCSTI/TIOCLINUX probe of tests/attach.rs: from inside a container, push a command
 * into the input of every terminal among fds 0-2 and /dev/tty, and try a TIOCLINUX
 * request; print what the kernel said for each. Built by the test (gcc -static). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void push(int fd, const char *what)
{
    const char *cmd = "echo HAKO-PWNED\n";
    int ok = 1, err = 0;
    for (const char *p = cmd; *p; p++) {
        if (ioctl(fd, TIOCSTI, p) < 0) {
            ok = 0;
            err = errno;
            break;
        }
    }
    char sel = 3; /* TIOCLINUX subcode 3: selection paste (needs a VT) */
    int lin = ioctl(fd, TIOCLINUX, &sel) < 0 ? errno : 0;
    dprintf(2, "%s: tiocsti %s%s%s, tioclinux %s\n", what, ok ? "ok" : "refused",
            ok ? "" : " ", ok ? "" : strerror(err), lin ? strerror(lin) : "ok");
}

int main(void)
{
    char name[16];
    for (int fd = 0; fd < 3; fd++) {
        if (isatty(fd)) {
            snprintf(name, sizeof name, "fd %d", fd);
            push(fd, name);
        }
    }
    int t = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (t >= 0)
        push(t, "/dev/tty");
    return 0;
}
