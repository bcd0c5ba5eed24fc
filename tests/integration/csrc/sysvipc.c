/* sysvipc KEY: prints the SysV shared memory segment and message queue with
 * KEY, if this process can reach them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	key_t key = (key_t)strtol(argv[1], NULL, 0);
	int id = shmget(key, 0, 0);
	fprintf(stderr, "sysvipc: shmget -> %d %s\n", id, id < 0 ? strerror(errno) : "");
	if (id >= 0) {
		char *p = shmat(id, NULL, SHM_RDONLY);
		if (p != (void *)-1)
			(void)!write(1, p, strnlen(p, 4096));
	}
	int q = msgget(key, 0);
	fprintf(stderr, "sysvipc: msgget -> %d %s\n", q, q < 0 ? strerror(errno) : "");
	if (q >= 0) {
		struct { long type; char text[4096]; } m;
		ssize_t n = msgrcv(q, &m, sizeof(m.text), 0, IPC_NOWAIT);
		if (n > 0)
			(void)!write(1, m.text, (size_t)n);
	}
	return 0;
}
