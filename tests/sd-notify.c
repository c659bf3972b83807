/* sd-notify MESSAGE: send MESSAGE as one datagram to $NOTIFY_SOCKET, as a
 * service's sd_notify(3) does. Built static into the test rootfs, since
 * busybox has no datagram sender. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (argc != 2 || !path || strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: NOTIFY_SOCKET=PATH sd-notify MESSAGE\n");
		return 2;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("sd-notify");
		return 1;
	}
	return 0;
}
