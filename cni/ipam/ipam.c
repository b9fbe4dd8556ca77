// SPDX-License-Identifier: Apache-2.0
/* Runs the delegated IPAM plugin: same environment, same stdin, its stdout back. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fd_io.h"
#include "ipam.h"
#include "ipam_sluice.h"
#include "result.h"

#define IPAM_TIMEOUT_MS 60000
#define IPAM_OUT_MAX	(1 << 20)

extern char **environ;

int ipam_find(const char *cni_path, const char *type, char *path, size_t size, struct cni_err *e)
{
	_cleanup_free_ char *dirs = strdup(cni_path ? cni_path : "");
	char *save = NULL;

	if (ipam_sluice_is(type)) /* in-process, found wherever we run */
		return snprintf(path, size, "(in-process %s)", type) < 0 ? -EINVAL : 0;
	if (!dirs)
		return cni_err_set(e, -ENOMEM, CNI_ERR_INTERNAL, "Out of memory", "CNI_PATH");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if (snprintf(path, size, "%s/%s", d, type) >= (int)size)
			continue;
		if (!stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK))
			return 0;
	}
	cni_err_set(e, 0, CNI_ERR_CONFIG, "Invalid network configuration",
		    "failed to find IPAM plugin \"%s\" in CNI_PATH \"%s\"", type,
		    cni_path ? cni_path : "");
	return -ENOENT;
}

static bool env_overridden(const char *entry, const struct ipam_call *c)
{
	static const char *const names[] = {
	    "CNI_COMMAND=", "CNI_CONTAINERID=", "CNI_NETNS=", "CNI_IFNAME="};
	const char *vals[] = {c->command, c->containerid, c->netns, c->ifname};

	for (int i = 0; i < 4; i++)
		if (vals[i] && !strncmp(entry, names[i], strlen(names[i])))
			return true;
	return false;
}

/* Our environment with the call's overrides; entries point into environ or
 * into the returned block's tail. */
static char **env_build(const struct ipam_call *c)
{
	const char *names[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"};
	const char *vals[] = {c->command, c->containerid, c->netns, c->ifname};
	size_t n = 0, k = 0, extra = 0;
	char **env, *tail;

	while (environ[n])
		n++;
	for (int i = 0; i < 4; i++)
		if (vals[i])
			extra += strlen(names[i]) + strlen(vals[i]) + 2;
	env = malloc((n + 5) * sizeof(char *) + extra);
	if (!env)
		return NULL;
	tail = (char *)(env + n + 5);
	for (size_t i = 0; i < n; i++)
		if (!env_overridden(environ[i], c))
			env[k++] = environ[i];
	for (int i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		env[k++] = tail;
		tail += sprintf(tail, "%s=%s", names[i], vals[i]) + 1;
	}
	env[k] = NULL;
	return env;
}

static int input_fd(const char *buf, size_t len)
{
	int fd = memfd_create("cni-stdin", MFD_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, buf, len);
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Reads fd until EOF into a NUL-terminated buffer; -ETIMEDOUT at deadline. */
static int output_read(int fd, long long deadline, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return r < 0 ? -errno : -ETIMEDOUT;
		}
		if (cap - len < 1024) {
			char *nb = cap >= IPAM_OUT_MAX ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return cap >= IPAM_OUT_MAX ? -EFBIG : -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* Reaps the child pid once it has exited: 0 with *status, -ETIMEDOUT
 * when it is still running at deadline (a plugin may close its stdout and
 * go on). */
static int child_wait(pid_t pid, long long deadline, int *status)
{
	const struct timespec tick = {.tv_nsec = 1000000};

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
	}
}

/* Forks and execs the plugin at path, in as its stdin, its stdout into
 * *out_fd: the child's pid, or -errno. */
static pid_t plugin_spawn(char *path, char **env, int in, int *out_fd)
{
	int pipefd[2], r;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0) {
		char *argv[] = {path, NULL};

		if (dup2(in, STDIN_FILENO) < 0 || dup2(pipefd[1], STDOUT_FILENO) < 0)
			_exit(126);
		execve(path, argv, env);
		_exit(127);
	}
	close(pipefd[1]);
	*out_fd = pipefd[0];
	return pid;
}

/* Runs the plugin at path with in as its stdin and env as its environment:
 * its stdout into *output, how it ended into *status. A plugin that has
 * not answered and exited by the deadline (c->timeout_ms) is killed. */
static int plugin_run(const struct ipam_call *c, char *path, char **env, int in, char **output,
		      int *status, struct cni_err *e)
{
	unsigned int ms = c->timeout_ms ? c->timeout_ms : IPAM_TIMEOUT_MS;
	long long deadline = now_ms() + ms;
	int fd = -1, r, ignored;
	pid_t pid;

	pid = plugin_spawn(path, env, in, &fd);
	if (pid < 0)
		return cni_err_set(e, pid, CNI_ERR_IO, "Failed to run IPAM plugin", "spawning %s",
				   path);
	r = output_read(fd, deadline, output);
	close(fd);
	if (r == 0)
		r = child_wait(pid, deadline, status);
	if (r == 0)
		return 0;
	kill(pid, SIGKILL);
	while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR)
		;
	if (r == -ETIMEDOUT)
		return cni_err_set(e, r, CNI_ERR_IO, "IPAM plugin timed out",
				   "%s %s did not answer and exit within %u ms; killed", path,
				   c->command, ms);
	return cni_err_set(e, r, CNI_ERR_IO, "Failed to run IPAM plugin", "running %s %s", path,
			   c->command);
}

/* The error of a plugin that did not exit 0: its own CNI error passed up,
 * code and msg unchanged, else one saying how it ended. */
static int plugin_err_set(const struct ipam_call *c, int status, char *output, struct cni_err *e)
{
	if (cni_err_parse(output, e) == 0) {
		if (!e->details[0])
			snprintf(e->details, sizeof(e->details), "IPAM plugin %s %s failed",
				 c->type, c->command);
		return -EIO;
	}
	output[strcspn(output, "\n")] = '\0';
	if (WIFEXITED(status))
		return cni_err_set(e, -EIO, CNI_ERR_INTERNAL, "IPAM plugin failed",
				   "%s %s exited with status %d, output \"%.300s\"", c->type,
				   c->command, WEXITSTATUS(status), output);
	return cni_err_set(e, -EIO, CNI_ERR_INTERNAL, "IPAM plugin failed",
			   "%s %s killed by signal %d", c->type, c->command, WTERMSIG(status));
}

int ipam_exec(const struct ipam_call *c, char **out, struct cni_err *e)
{
	_cleanup_free_ char **env = NULL;
	_cleanup_free_ char *output = NULL;
	_cleanup_close_ int in = -1;
	char path[PATH_MAX];
	int status, r;

	if (ipam_sluice_is(c->type))
		return ipam_sluice_exec(c, out, e);
	r = ipam_find(c->cni_path, c->type, path, sizeof(path), e);
	if (r < 0)
		return r;
	env = env_build(c);
	in = input_fd(c->input, c->input_len);
	if (!env || in < 0)
		return cni_err_set(e, in < 0 ? in : -ENOMEM, CNI_ERR_IO,
				   "Failed to run IPAM plugin", "preparing %s", path);
	r = plugin_run(c, path, env, in, &output, &status, e);
	if (r < 0)
		return r;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		*out = output;
		output = NULL;
		return 0;
	}
	return plugin_err_set(c, status, output, e);
}
