#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/// A child's exit sends SIGCHLD to the thread that started it. The agent never handles SIGCHLD (it
/// watches exits through pidfds), but libdispatch's and NIO's threads block every signal, and the
/// kernel never discards a blocked signal: each exit queued one, woke the main thread to discard it,
/// and woke libdispatch's signalfd thread. With SIGCHLD unblocked in the spawning thread, its default
/// disposition (ignore) drops it at the source. Exit statuses are unaffected (only SIG_IGN reaps).
static void let_child_exits_go_unsignalled(void) {
    static __thread int unblocked;
    if (unblocked) return;
    sigset_t child_signal;
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    if (pthread_sigmask(SIG_UNBLOCK, &child_signal, NULL) == 0) unblocked = 1;
}

static int spawn_without_credentials(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                                     int stdin_fd, int output_fd, const char *directory) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int error = posix_spawn_file_actions_init(&actions);
    if (error != 0) return error;
    error = posix_spawnattr_init(&attributes);
    if (error != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return error;
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    // A process group of its own, not a session: see etcha_spawn in cspawn.h.
    if (!error) error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!error) error = posix_spawnattr_setpgroup(&attributes, 0);
    if (!error) error = posix_spawnattr_setsigmask(&attributes, &none);
    if (!error) error = posix_spawnattr_setsigdefault(&attributes, &all);
    if (!error) error = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    if (!error) error = posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
    if (!error) error = posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
    if (!error) error = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!error && directory) error = posix_spawn_file_actions_addchdir_np(&actions, directory);
    if (!error) error = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}

/// Forks a child that leads a process group of its own (with `terminal`, a session of its own with
/// `stdin_fd`, a terminal, as its controlling terminal), takes `stdin_fd` as standard input and
/// `output_fd` as standard output and error, optionally the given credentials, then execs.
static int fork_and_exec(pid_t *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd,
                         int output_fd, int terminal, const char *directory, int set_credentials, uid_t uid,
                         gid_t gid, const gid_t *groups, int group_count) {
    // The child reports an exec failure through this pipe (closed on a successful exec).
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = fork();
    if (child == 0) {
        // Only async-signal-safe calls from here on, and raw system calls for credentials: glibc's
        // wrappers would try to reach the parent's other threads.
        int failure = 0;
        for (int signal_number = 1; signal_number < NSIG; signal_number++) {
            struct sigaction action;
            memset(&action, 0, sizeof(action));
            action.sa_handler = SIG_DFL;
            sigaction(signal_number, &action, NULL);
        }
        if ((terminal ? setsid() : setpgid(0, 0)) < 0) failure = errno;
        if (!failure && terminal && ioctl(stdin_fd, TIOCSCTTY, 0) != 0) failure = errno;
        if (!failure && set_credentials) {
            if (syscall(SYS_setgroups, (size_t)group_count, groups) != 0) failure = errno;
            if (!failure && syscall(SYS_setresgid, gid, gid, gid) != 0) failure = errno;
            if (!failure && syscall(SYS_setresuid, uid, uid, uid) != 0) failure = errno;
        }
        if (!failure && directory && chdir(directory) != 0) failure = errno;
        if (!failure && dup2(stdin_fd, 0) < 0) failure = errno;
        if (!failure && dup2(output_fd, 1) < 0) failure = errno;
        if (!failure && dup2(output_fd, 2) < 0) failure = errno;
        if (!failure) {
            int keep = report[1];
            // Close everything above 2 but the report pipe (close-on-exec, so exec closes it).
            if (keep > 3) syscall(SYS_close_range, 3, keep - 1, 0);
            syscall(SYS_close_range, keep + 1, ~0U, 0);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            execve(path, argv, envp);
            failure = errno;
        }
        (void)!write(report[1], &failure, sizeof(failure));
        _exit(127);
    }
    int fork_error = child < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);
    if (fork_error) {
        close(report[0]);
        return fork_error;
    }
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof(child_error));
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    *pid = child;
    // The child's exit is reaped by the caller either way; a failure still returns its pid so it is.
    return got == sizeof(child_error) ? (child_error ? child_error : EIO) : 0;
}

int etcha_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd, int output_fd,
                const char *directory, int set_credentials, uid_t uid, gid_t gid, const gid_t *groups,
                int group_count) {
    let_child_exits_go_unsignalled();
    if (set_credentials) {
        return fork_and_exec(pid, path, argv, envp, stdin_fd, output_fd, 0, directory, 1, uid, gid, groups,
                             group_count);
    }
    return spawn_without_credentials(pid, path, argv, envp, stdin_fd, output_fd, directory);
}

int etcha_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int etcha_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int etcha_pipe(int descriptors[2]) {
    return pipe2(descriptors, O_CLOEXEC);
}

int etcha_spawn_terminal(pid_t *pid, int *controller, const char *path, char *const argv[], char *const envp[],
                         const char *directory, int set_credentials, uid_t uid, gid_t gid, const gid_t *groups,
                         int group_count, unsigned short columns, unsigned short rows) {
    let_child_exits_go_unsignalled();
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return errno;
    char name[128];
    int error = 0;
    if (grantpt(master) != 0 || unlockpt(master) != 0) error = errno;
    if (!error) error = ptsname_r(master, name, sizeof(name));
    int terminal = -1;
    if (!error) {
        terminal = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (terminal < 0) error = errno;
    }
    if (!error) error = etcha_terminal_resize(master, columns, rows) == 0 ? 0 : errno;
    // The shell's user owns its terminal, as after a login.
    if (!error && set_credentials && fchown(terminal, uid, (gid_t)-1) != 0) error = errno;
    if (!error) {
        error = fork_and_exec(pid, path, argv, envp, terminal, terminal, 1, directory, set_credentials, uid, gid,
                              groups, group_count);
    }
    if (terminal >= 0) close(terminal);
    if (error && !(*pid > 0)) {
        close(master);
        return error;
    }
    int flags = fcntl(master, F_GETFL);
    if (flags >= 0) fcntl(master, F_SETFL, flags | O_NONBLOCK);
    *controller = master;
    return error;
}

int etcha_terminal_resize(int controller, unsigned short columns, unsigned short rows) {
    struct winsize size;
    memset(&size, 0, sizeof(size));
    size.ws_col = columns;
    size.ws_row = rows;
    return ioctl(controller, TIOCSWINSZ, &size);
}
