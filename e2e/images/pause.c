// SPDX-License-Identifier: Apache-2.0
/* The pod sandbox's init process for the local test images: holds the pod's
 * namespaces, reaps orphans, exits 0 on SIGINT/SIGTERM (as upstream pause). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void sig_exit(int sig)
{
	_exit(0);
}

static void sig_reap(int sig)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction stop = {.sa_handler = sig_exit}, reap = {.sa_handler = sig_reap};

	if (getpid() != 1)
		fprintf(stderr, "pause: warning: not pid 1\n");
	if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
	    sigaction(SIGCHLD, &reap, NULL) < 0) {
		perror("pause: sigaction");
		return 1;
	}
	for (;;)
		pause();
}
