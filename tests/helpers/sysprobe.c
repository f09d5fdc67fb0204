/*
 * sysprobe: makes system calls directly, through the native x86_64 ABI (syscall(2)) and
 * through the i386 compat ABI (int $0x80 from this 64-bit process: the kernel then runs the
 * 32-bit entry, with i386 numbers, and tells seccomp AUDIT_ARCH_I386), and prints what the
 * kernel answered. tests/seccomp.rs builds it with gcc -static and runs it as root inside
 * containers.
 *
 *   sysprobe                      every probe, both ABIs
 *   sysprobe NAME...              these probes
 *   sysprobe call 64|32 NR [ARG...]   one raw call (integer arguments)
 *
 * Output, one line per call: NAME ABI RESULT [VALUE], RESULT being "ok" (the call returned
 * VALUE >= 0) or the error's name (EPERM, ENOSYS, ...).
 *
 * Every probe only reads host state or fails on purpose when nothing filters it: its
 * arguments are chosen so that an unfiltered call ends with a harmless error (EFAULT,
 * EINVAL, ENOENT, ENOTTY) or reads something; descriptors it gets are closed at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <sys/prctl.h>

/* The i386 numbers (arch/x86/entry/syscalls/syscall_32.tbl); the native ones come from
 * <sys/syscall.h>. */
#define I386_getpid 20
#define I386_umount2 52
#define I386_ioctl 54
#define I386_syslog 103
#define I386_init_module 128
#define I386_delete_module 129
#define I386_kexec_load 283
#define I386_add_key 286
#define I386_request_key 287
#define I386_keyctl 288
#define I386_perf_event_open 336
#define I386_open_by_handle_at 342
#define I386_finit_module 350
#define I386_bpf 357
#define I386_open_tree 428
#define I386_fsopen 430
#define NONE (-1L)

static long call64(long nr, long a, long b, long c, long d, long e)
{
	long r = syscall(nr, a, b, c, d, e);
	return r < 0 ? -errno : r;
}

/* int $0x80 from 64-bit code: arguments in ebx, ecx, edx, esi, edi (32 bits each); the
 * entry zeroes r8-r11. Pointers must lie below 4 GiB: the probes use static objects of
 * this non-PIE static binary. */
static long call32(long nr, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e)
{
	long r;
	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory", "r8", "r9", "r10", "r11", "cc");
	return (int)r;
}

static uint32_t low(const void *p)
{
	if ((uintptr_t)p > 0xffffffffUL) {
		fprintf(stderr, "sysprobe: %p is above 4 GiB; build with -static -no-pie\n", p);
		exit(2);
	}
	return (uint32_t)(uintptr_t)p;
}

static long sc(int abi, long nr64, long nr32, long a, long b, long c, long d, long e)
{
	if (abi == 64)
		return call64(nr64, a, b, c, d, e);
	return call32(nr32, (uint32_t)a, (uint32_t)b, (uint32_t)c, (uint32_t)d, (uint32_t)e);
}

#define P(x) ((long)low(x))

static const char no_such_path[] = "/nonexistent-hako-sysprobe";
static const char no_such_module[] = "hako_sysprobe_no_such_module";
static const char empty[] = "";
static const char proc_name[] = "proc";
static const char root_path[] = "/";
static char byte = 'x';
static uint32_t bpf_attr_buf[4];
static struct perf_event_attr perf_attr;
static int null_fd = -1;

#define TIOCSTI_ 0x5412
#define TIOCLINUX_ 0x541c

static long closing(long r)
{
	if (r >= 0)
		close((int)r);
	return r;
}

/* Each probe: the call, with arguments that do nothing when it is not filtered. */
static long p_getpid(int abi) { return sc(abi, SYS_getpid, I386_getpid, 0, 0, 0, 0, 0); }
/* EFAULT (NULL handle) for root with CAP_DAC_READ_SEARCH */
static long p_open_by_handle_at(int abi)
{
	return closing(sc(abi, SYS_open_by_handle_at, I386_open_by_handle_at, AT_FDCWD, 0,
			  O_RDONLY, 0, 0));
}
/* an unknown flag: EINVAL (ENOSYS without CONFIG_KEXEC) */
static long p_kexec_load(int abi) { return sc(abi, SYS_kexec_load, I386_kexec_load, 0, 0, 0, 0x100, 0); }
static long p_kexec_file_load(int abi) { return sc(abi, SYS_kexec_file_load, NONE, -1, -1, 0, 0, 0x100); }
/* too short an image: ENOEXEC (EPERM without CAP_SYS_MODULE, ENOSYS without modules) */
static long p_init_module(int abi) { return sc(abi, SYS_init_module, I386_init_module, 0, 0, P(empty), 0, 0); }
static long p_finit_module(int abi) { return sc(abi, SYS_finit_module, I386_finit_module, -1, P(empty), 0, 0, 0); }
static long p_delete_module(int abi)
{
	return sc(abi, SYS_delete_module, I386_delete_module, P(no_such_module), O_NONBLOCK, 0, 0, 0);
}
/* KEYCTL_GET_KEYRING_ID of KEY_SPEC_USER_KEYRING without creating: reads the id of the
 * user keyring of uid 0, the host root's in a privileged container */
static long p_keyctl(int abi) { return sc(abi, SYS_keyctl, I386_keyctl, 0, -4, 0, 0, 0); }
/* NULL type: EFAULT */
static long p_add_key(int abi) { return sc(abi, SYS_add_key, I386_add_key, 0, 0, 0, 0, -3); }
static long p_request_key(int abi) { return sc(abi, SYS_request_key, I386_request_key, 0, 0, 0, 0, 0); }
/* BPF_PROG_GET_NEXT_ID from 0: lists the host's BPF programs (0, or ENOENT if none) */
static long p_bpf(int abi)
{
	memset(bpf_attr_buf, 0, sizeof(bpf_attr_buf));
	return sc(abi, SYS_bpf, I386_bpf, 11, P(bpf_attr_buf), 12, 0, 0);
}
/* a software CPU clock counter on CPU 0 for every process (pid -1): system-wide */
static long p_perf_event_open(int abi)
{
	memset(&perf_attr, 0, sizeof(perf_attr));
	perf_attr.type = PERF_TYPE_SOFTWARE;
	perf_attr.size = sizeof(perf_attr);
	perf_attr.config = PERF_COUNT_SW_CPU_CLOCK;
	perf_attr.disabled = 1;
	return closing(sc(abi, SYS_perf_event_open, I386_perf_event_open, P(&perf_attr), -1, 0, -1,
			  PERF_FLAG_FD_CLOEXEC));
}
/* SYSLOG_ACTION_SIZE_BUFFER: the size of the host's kernel log (read only) */
static long p_syslog(int abi) { return sc(abi, SYS_syslog, I386_syslog, 10, 0, 0, 0, 0); }
/* on /dev/null: ENOTTY when not filtered */
static long p_tiocsti(int abi) { return sc(abi, SYS_ioctl, I386_ioctl, null_fd, TIOCSTI_, P(&byte), 0, 0); }
/* the kernel ignores the high half of the command: still TIOCSTI */
static long p_tiocsti_hi(int abi)
{
	return sc(abi, SYS_ioctl, NONE, null_fd, 0x100000000L | TIOCSTI_, P(&byte), 0, 0);
}
static long p_tioclinux(int abi) { return sc(abi, SYS_ioctl, I386_ioctl, null_fd, TIOCLINUX_, P(&byte), 0, 0); }
/* MNT_FORCE on a path that does not exist: ENOENT */
static long p_umount2_force(int abi) { return sc(abi, SYS_umount2, I386_umount2, P(no_such_path), 1, 0, 0, 0); }
/* a proc file system context (no mount): a descriptor, closed */
static long p_fsopen(int abi) { return closing(sc(abi, SYS_fsopen, I386_fsopen, P(proc_name), 1, 0, 0, 0)); }
/* an O_PATH descriptor of / (no clone): closed */
static long p_open_tree(int abi)
{
	return closing(sc(abi, SYS_open_tree, I386_open_tree, AT_FDCWD, P(root_path), O_CLOEXEC, 0, 0));
}
/* a container may stack filters of its own (systemd does): an allow-all filter */
static long p_seccomp(int abi)
{
	static struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	static struct sock_fprog prog = { .len = 1, .filter = &allow };
	if (abi != 64)
		return -ENOSYS;
	return call64(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0);
}

struct probe {
	const char *name;
	long (*fn)(int abi);
	int compat;
};

static const struct probe probes[] = {
	{ "getpid", p_getpid, 1 },
	{ "open_by_handle_at", p_open_by_handle_at, 1 },
	{ "kexec_load", p_kexec_load, 1 },
	{ "kexec_file_load", p_kexec_file_load, 0 },
	{ "init_module", p_init_module, 1 },
	{ "finit_module", p_finit_module, 1 },
	{ "delete_module", p_delete_module, 1 },
	{ "keyctl", p_keyctl, 1 },
	{ "add_key", p_add_key, 1 },
	{ "request_key", p_request_key, 1 },
	{ "bpf", p_bpf, 1 },
	{ "perf_event_open", p_perf_event_open, 1 },
	{ "syslog", p_syslog, 1 },
	{ "tiocsti", p_tiocsti, 1 },
	{ "tiocsti_hi", p_tiocsti_hi, 0 },
	{ "tioclinux", p_tioclinux, 1 },
	{ "umount2_force", p_umount2_force, 1 },
	{ "fsopen", p_fsopen, 1 },
	{ "open_tree", p_open_tree, 1 },
	{ "seccomp", p_seccomp, 0 },
};

static const char *errname(long e)
{
	static char buf[24];
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSYS: return "ENOSYS";
	case ENOEXEC: return "ENOEXEC";
	case E2BIG: return "E2BIG";
	case ENODEV: return "ENODEV";
	case ENOKEY: return "ENOKEY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	}
	snprintf(buf, sizeof(buf), "E%ld", e);
	return buf;
}

static void show(const char *name, int abi, long r)
{
	if (r >= 0)
		printf("%s %d ok %ld\n", name, abi, r);
	else
		printf("%s %d %s\n", name, abi, errname(-r));
	fflush(stdout);
}

static void run(const struct probe *p)
{
	show(p->name, 64, p->fn(64));
	if (p->compat)
		show(p->name, 32, p->fn(32));
}

int main(int argc, char **argv)
{
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0) {
		perror("sysprobe: /dev/null");
		return 2;
	}
	if (argc >= 4 && strcmp(argv[1], "call") == 0) {
		int abi = atoi(argv[2]);
		long nr = strtol(argv[3], NULL, 0);
		long a[5] = { 0 };
		for (int i = 4; i < argc && i < 9; i++)
			a[i - 4] = (long)strtoull(argv[i], NULL, 0);
		long r = abi == 32 ? call32(nr, a[0], a[1], a[2], a[3], a[4])
				   : call64(nr, a[0], a[1], a[2], a[3], a[4]);
		show("call", abi, r);
		return 0;
	}
	size_t n = sizeof(probes) / sizeof(probes[0]);
	if (argc == 1) {
		for (size_t i = 0; i < n; i++)
			run(&probes[i]);
		return 0;
	}
	for (int a = 1; a < argc; a++) {
		size_t i;
		for (i = 0; i < n && strcmp(probes[i].name, argv[a]) != 0; i++)
			;
		if (i == n) {
			fprintf(stderr, "sysprobe: unknown probe %s\n", argv[a]);
			return 2;
		}
		run(&probes[i]);
	}
	return 0;
}
