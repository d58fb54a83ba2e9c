/* SPDX-License-Identifier: MIT */
/*
 * Prints what the guest's input devices report (run in the test guest of
 * suite qemu): every /dev/input/event* device, then one line per key,
 * button, absolute axis and wheel event, as the guest's kernel delivers
 * them (evdev), flushed at once so that the host can read the file as it
 * grows.
 *
 *   guest-evdev [--seconds N]
 *
 * Lines:
 *   device PATH "NAME" abs_x MIN..MAX abs_y MIN..MAX   (axes only if it has them)
 *   ready N                                            (N devices opened)
 *   key CODE VALUE      EV_KEY: keys and buttons (BTN_LEFT 272); 1 down, 0 up, 2 repeat
 *   abs x|y VALUE
 *   rel x|y VALUE       REL_X, REL_Y: relative motion (a mouse)
 *   wheel VALUE         REL_WHEEL
 * Ends after N seconds (default 600) or when the guest ends. Exit 1 when no
 * device could be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 32

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void describe(int fd, const char *path)
{
    char name[128] = "";
    unsigned long abs_bits = 0;
    struct input_absinfo ax, ay;

    if (ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name) < 0)
        strcpy(name, "?");
    printf("device %s \"%s\"", path, name);
    if (ioctl(fd, EVIOCGBIT(EV_ABS, sizeof(abs_bits)), &abs_bits) >= 0 &&
        (abs_bits & (1ul << ABS_X)) && (abs_bits & (1ul << ABS_Y)) &&
        ioctl(fd, EVIOCGABS(ABS_X), &ax) == 0 && ioctl(fd, EVIOCGABS(ABS_Y), &ay) == 0)
        printf(" abs_x %d..%d abs_y %d..%d", ax.minimum, ax.maximum, ay.minimum, ay.maximum);
    printf("\n");
}

static void print_event(const struct input_event *ev)
{
    if (ev->type == EV_KEY)
        printf("key %u %d\n", ev->code, ev->value);
    else if (ev->type == EV_ABS && (ev->code == ABS_X || ev->code == ABS_Y))
        printf("abs %s %d\n", ev->code == ABS_X ? "x" : "y", ev->value);
    else if (ev->type == EV_REL && (ev->code == REL_X || ev->code == REL_Y))
        printf("rel %s %d\n", ev->code == REL_X ? "x" : "y", ev->value);
    else if (ev->type == EV_REL && ev->code == REL_WHEEL)
        printf("wheel %d\n", ev->value);
    else
        return;
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"seconds", required_argument, NULL, 's'},
                                             {NULL, 0, NULL, 0}};
    struct pollfd fds[MAX_DEVICES];
    int n = 0, opt;
    long seconds = 600;
    long long end;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt != 's' || (seconds = strtol(optarg, NULL, 10)) <= 0) {
            fprintf(stderr, "usage: guest-evdev [--seconds N]\n");
            return 2;
        }
    }
    for (int i = 0; i < MAX_DEVICES; i++) {
        char path[32];
        int fd;

        snprintf(path, sizeof(path), "/dev/input/event%d", i);
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        describe(fd, path);
        fds[n].fd = fd;
        fds[n].events = POLLIN;
        n++;
    }
    printf("ready %d\n", n);
    fflush(stdout);
    if (!n) {
        fprintf(stderr, "guest-evdev: no /dev/input/event* device could be opened\n");
        return 1;
    }
    end = now_ms() + seconds * 1000;
    while (now_ms() < end) {
        int r = poll(fds, (nfds_t)n, 1000);

        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "guest-evdev: poll: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; r > 0 && i < n; i++) {
            struct input_event ev[64];
            ssize_t got;

            if (!(fds[i].revents & POLLIN))
                continue;
            while ((got = read(fds[i].fd, ev, sizeof(ev))) > 0)
                for (size_t k = 0; k < (size_t)got / sizeof(ev[0]); k++)
                    print_event(&ev[k]);
        }
    }
    return 0;
}
