// SPDX-License-Identifier: Apache-2.0
/* Unit tests of fd_write_all (common/fd_io.c): a whole buffer through short
 * and interrupted writes, and the errors a writer reports (no root). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fd_io.h"
#include "unit.h"

#define BIG (1 << 20) /* 256 pipe buffers of 4 KiB */

static char out[BIG], in[BIG];
static pthread_t writer;

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen = 1;
}

/* Reads the pipe to its end, interrupting the blocked writer with SIGUSR1
 * (no SA_RESTART) after every read: its write returns short, or -EINTR. */
static void *drain(void *arg)
{
	int fd = *(int *)arg;
	size_t got = 0;
	ssize_t n;

	while (got < BIG && (n = read(fd, in + got, 4096)) > 0) {
		got += (size_t)n;
		pthread_kill(writer, SIGUSR1);
	}
	return (void *)got;
}

/* A pipe of one 4 KiB buffer for this thread to write into, SIGUSR1
 * (no SA_RESTART) able to interrupt its writes. */
static void writer_pipe(int p[2])
{
	struct sigaction sa = {.sa_handler = on_usr1};

	CHECK_INT(sigaction(SIGUSR1, &sa, NULL), 0);
	CHECK_INT(pipe(p), 0);
	CHECK_INT(fcntl(p[1], F_SETPIPE_SZ, 4096) > 0, 1);
	writer = pthread_self();
	usr1_seen = 0;
}

static void test_whole_buffer(void)
{
	int p[2];
	pthread_t t;
	void *got;

	UNIT_CASE("a buffer through writes cut short by signals arrives whole and in order");
	for (size_t i = 0; i < BIG; i++)
		out[i] = (char)(i * 131 + i / 4096);
	writer_pipe(p);
	CHECK_INT(pthread_create(&t, NULL, drain, &p[0]), 0);
	CHECK_INT(fd_write_all(p[1], out, BIG), 0);
	close(p[1]);
	pthread_join(t, &got);
	close(p[0]);
	signal(SIGUSR1, SIG_IGN);
	CHECK_INT((long)(size_t)got, BIG);
	CHECK(!memcmp(in, out, BIG));

	UNIT_CASE("nothing to write is no write at all");
	CHECK_INT(fd_write_all(-1, out, 0), 0);
}

/* Waits 100 ms (the writer is blocked on the full pipe by then), signals
 * it and waits for its handler to have run (its write, nothing written,
 * has returned EINTR then), then empties the pipe, so that only a retried
 * write goes through. */
static void *interrupt_then_drain(void *arg)
{
	const struct timespec wait = {.tv_nsec = 100000000}, tick = {.tv_nsec = 1000000};
	int fd = *(int *)arg;
	size_t got = 0;
	ssize_t n;

	nanosleep(&wait, NULL);
	pthread_kill(writer, SIGUSR1);
	for (int i = 0; i < 2000 && !usr1_seen; i++)
		nanosleep(&tick, NULL);
	while (got < 4096 + 1 && (n = read(fd, in, sizeof(in))) > 0)
		got += (size_t)n;
	return (void *)got;
}

static void test_interrupted(void)
{
	int p[2];
	pthread_t t;
	void *got;

	UNIT_CASE("a write interrupted before it wrote anything (EINTR) is tried again");
	writer_pipe(p);
	CHECK_INT(write(p[1], out, 4096), 4096); /* full: the next write blocks */
	CHECK_INT(pthread_create(&t, NULL, interrupt_then_drain, &p[0]), 0);
	CHECK_INT(fd_write_all(p[1], "x", 1), 0);
	close(p[1]);
	pthread_join(t, &got);
	close(p[0]);
	signal(SIGUSR1, SIG_IGN);
	CHECK_INT(usr1_seen, 1);
	CHECK_INT((long)(size_t)got, 4096 + 1);
}

static void test_errors(void)
{
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC), p[2];

	UNIT_CASE("a full device: -ENOSPC");
	CHECK(fd >= 0);
	CHECK_INT(fd_write_all(fd, "x", 1), -ENOSPC);
	close(fd);

	UNIT_CASE("a pipe nobody reads: -EPIPE");
	CHECK_INT(pipe(p), 0);
	close(p[0]);
	CHECK_INT(fd_write_all(p[1], "x", 1), -EPIPE);
	close(p[1]);

	UNIT_CASE("a closed descriptor: -EBADF");
	CHECK_INT(fd_write_all(-1, "x", 1), -EBADF);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_whole_buffer();
	test_interrupted();
	test_errors();
	return unit_done();
}
