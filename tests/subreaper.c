/* Run a command as a child subreaper, as container engines (conmon, the
 * containerd shim) are: container inits orphaned by `berth create` are
 * reparented here and reaped at once instead of by a slow PID 1.
 * Exits with the command's status. */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: subreaper CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		perror("subreaper: prctl");
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("subreaper: fork");
		return 1;
	}
	if (child == 0) {
		execvp(argv[1], argv + 1);
		perror("subreaper: exec");
		_exit(127);
	}
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return 1;
		if (p == child) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
	}
}
