/* Reference WebSocket ping/pong client: one connection to 127.0.0.1:PORT/ws, for SECS
 * seconds: send {"type":"ping","id":"N"} (masked text frame), read frames until the one
 * whose payload holds "N" as id, sleep IDLE_MS. The clock: CLOCK_MONOTONIC read just
 * before write() and just after the read() that completes the answer. Prints n, min, p1,
 * p50 in microseconds. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
static int read_full(int fd, unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s PORT SECS [IDLE_MS]\n", argv[0]); return 2; }
    int port = atoi(argv[1]);
    double secs = atof(argv[2]);
    int idle_ms = argc > 3 ? atoi(argv[3]) : 10;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[256];
    int rl = snprintf(req, sizeof req,
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", port);
    if (write(fd, req, rl) != rl) return 1;
    char head[4096];
    size_t hl = 0;
    while (hl < sizeof head - 1) { /* up to the end of the response head, byte by byte */
        if (read(fd, head + hl, 1) != 1) return 1;
        hl++;
        if (hl >= 4 && memcmp(head + hl - 4, "\r\n\r\n", 4) == 0) break;
    }
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) { fprintf(stderr, "no upgrade\n"); return 1; }
    size_t cap = 1 << 20, n = 0;
    double *lat = malloc(cap * sizeof *lat), end = now_us() + secs * 1e6;
    unsigned char frame[128], buf[65536];
    for (long id = 1; now_us() < end && n < cap; id++) {
        char payload[64], want[32];
        int pl = snprintf(payload, sizeof payload, "{\"type\":\"ping\",\"id\":\"%ld\"}", id);
        snprintf(want, sizeof want, "\"%ld\"", id);
        frame[0] = 0x81; frame[1] = 0x80 | pl;
        memset(frame + 2, 0, 4); /* a zero mask: the payload goes as is */
        memcpy(frame + 6, payload, pl);
        double t0 = now_us();
        if (write(fd, frame, 6 + pl) != 6 + pl) return 1;
        for (;;) {
            unsigned char h[2];
            if (read_full(fd, h, 2)) return 1;
            unsigned long len = h[1] & 0x7f;
            if (len == 126) { unsigned char e[2]; if (read_full(fd, e, 2)) return 1; len = (e[0] << 8) | e[1]; }
            else if (len == 127) { fprintf(stderr, "frame too long\n"); return 1; }
            if (len >= sizeof buf) return 1;
            if (read_full(fd, buf, len)) return 1;
            double t1 = now_us();
            buf[len] = 0;
            if ((h[0] & 0x0f) == 1 && strstr((char *)buf, "pong") && strstr((char *)buf, want)) {
                lat[n++] = t1 - t0;
                break;
            }
        }
        if (idle_ms > 0) usleep(idle_ms * 1000);
    }
    close(fd);
    if (n == 0) return 1;
    qsort(lat, n, sizeof *lat, cmp);
    printf("n %zu min %.0f p1 %.0f p50 %.0f\n", n, lat[0], lat[n / 100], lat[n / 2]);
    return 0;
}
