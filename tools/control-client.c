// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-client.h"

int control_check_protocol(struct json_object *untrusted, int64_t *version)
{
	struct json_object *v;

	*version = 1;
	if (!json_object_object_get_ex(untrusted, "protocol", &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1)
		return -EBADMSG;
	*version = json_object_get_int64(v);
	return *version > CONTROL_PROTOCOL_KNOWN ? -EPROTONOSUPPORT : 0;
}

int control_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int control_send(int fd, const char *line, size_t len)
{
	while (len > 0) {
		/* MSG_NOSIGNAL: a daemon that went away is an error to report, not a signal. */
		ssize_t n = send(fd, line, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		line += n;
		len -= n;
	}
	return 0;
}

void line_reader_init(struct line_reader *r, size_t max)
{
	*r = (struct line_reader){.max = max};
}

void line_reader_release(struct line_reader *r)
{
	free(r->buf);
	*r = (struct line_reader){.max = r->max};
}

int line_reader_fill(struct line_reader *r, int fd)
{
	ssize_t n;

	/* What earlier lines used is reused before the buffer grows. */
	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	/* One byte beyond the data stays free for the NUL line_reader_next writes. */
	if (r->len + 1 >= r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		char *grown;

		if (cap > r->max + 1)
			cap = r->max + 1;
		if (r->len + 1 >= cap)
			return -EMSGSIZE;
		grown = realloc(r->buf, cap);
		if (!grown)
			return -ENOMEM;
		r->buf = grown;
		r->cap = cap;
	}
	do
		n = read(fd, r->buf + r->len, r->cap - 1 - r->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	r->len += n;
	return (int)n;
}

int line_reader_next(struct line_reader *r, char **line, size_t *len)
{
	char *start, *nl;

	if (r->len <= r->start)
		return -EAGAIN;
	start = r->buf + r->start;
	nl = memchr(start, '\n', r->len - r->start);
	if (!nl)
		return -EAGAIN;
	*nl = '\0';
	*line = start;
	*len = nl - start;
	r->start += *len + 1;
	return 0;
}

int line_reader_getline(struct line_reader *r, int fd, char **line, size_t *len)
{
	int n;

	while (line_reader_next(r, line, len) == -EAGAIN) {
		n = line_reader_fill(r, fd);
		if (n < 0)
			return n;
	}
	return 0;
}
