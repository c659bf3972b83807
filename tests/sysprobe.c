/* sysprobe: what the kernel answers a container, for the seccomp tests.
 * Static, so it runs in a busybox rootfs.
 *   sysprobe NR [ARG...]   one system call by number, integer arguments
 *                          (@text passes a pointer to "text"): prints
 *                          "ret=R errno=E"
 *   sysprobe spawn PATH    posix_spawn (glibc tries clone3 first and falls
 *                          back to clone on ENOSYS): "spawn status=S" or
 *                          "spawn errno=E"
 *   sysprobe thread        pthread_create (clone3 first too): "thread ok"
 *                          or "thread errno=E" */
#include <errno.h>
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

int main(int argc, char **argv)
{
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
