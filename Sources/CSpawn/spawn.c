#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/// What the child does between fork and exec.
struct child_setup {
    const char *path;
    char *const *argv;
    char *const *envp;
    int stdin_fd, output_fd, terminal, report_fd;
    const char *directory;
    int set_credentials;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
};

/// ThreadSanitizer turns vfork into fork, and a fork of a sanitized process holds the sanitizer's
/// global locks while it copies a vast address space: a thousand steps stalled every other test's
/// event loop. glibc's own entry point is not intercepted, and the child below runs no
/// instrumented code and calls no intercepted function, so the sanitized build spawns as the
/// shipped one does.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
extern pid_t __vfork(void) __attribute__((returns_twice));
#define ETCHA_VFORK __vfork
#endif
#endif
#ifndef ETCHA_VFORK
#define ETCHA_VFORK vfork
#endif

/// `new_fd` becomes a copy of `old_fd` without close-on-exec (dup2 with raw system calls).
__attribute__((disable_sanitizer_instrumentation)) static long duplicate(int old_fd, int new_fd) {
    if (old_fd == new_fd) return syscall(SYS_fcntl, new_fd, F_SETFD, 0);
    return syscall(SYS_dup3, old_fd, new_fd, 0);
}

/// The child's side: default signal dispositions, its own process group (or session and terminal),
/// credentials, directory, standard descriptors, every other descriptor closed, an empty signal
/// mask, exec. On failure it writes errno to the report pipe and exits. It may share the parent's
/// memory (vfork), so it writes nothing but its own frame and uses raw system calls only: glibc's
/// wrappers for credentials would try to reach the parent's other threads, and sanitizers'
/// interceptors would record the child's calls as the parent's. It never returns.
__attribute__((noreturn, noinline, disable_sanitizer_instrumentation)) static void exec_child(
    const struct child_setup *setup) {
    long failed = 0;
    // Every disposition back to default: handlers are the parent's and none may run here, and an
    // ignored signal would stay ignored across exec. (glibc's sigaction refuses its internal
    // signals 32 and 33, which posix_spawn leaves ignored in its children.)
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask;
    } default_action = {SIG_DFL, 0, NULL, 0};
    for (int signal_number = 1; signal_number <= 64; signal_number++) {
        if (signal_number != SIGKILL && signal_number != SIGSTOP) {
            syscall(SYS_rt_sigaction, signal_number, &default_action, NULL, sizeof(default_action.mask));
        }
    }
    failed = setup->terminal ? syscall(SYS_setsid) < 0 : syscall(SYS_setpgid, 0, 0);
    if (!failed && setup->terminal) failed = syscall(SYS_ioctl, setup->stdin_fd, TIOCSCTTY, 0);
    if (!failed && setup->set_credentials) {
        failed = syscall(SYS_setgroups, (size_t)setup->group_count, setup->groups);
        if (!failed) failed = syscall(SYS_setresgid, setup->gid, setup->gid, setup->gid);
        if (!failed) failed = syscall(SYS_setresuid, setup->uid, setup->uid, setup->uid);
    }
    if (!failed && setup->directory) failed = syscall(SYS_chdir, setup->directory);
    if (!failed) failed = duplicate(setup->stdin_fd, 0) < 0;
    if (!failed) failed = duplicate(setup->output_fd, 1) < 0;
    if (!failed) failed = duplicate(setup->output_fd, 2) < 0;
    if (!failed) {
        int keep = setup->report_fd;
        // Close everything above 2 but the report pipe (close-on-exec, so exec closes it).
        if (keep > 3) syscall(SYS_close_range, 3, keep - 1, 0);
        syscall(SYS_close_range, keep + 1, ~0U, 0);
        unsigned long none = 0;
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
        syscall(SYS_execve, setup->path, setup->argv, setup->envp);
    }
    // syscall(2) left the reason in errno (the parent's thread's, which reads it only after its own calls).
    int failure = errno;
    syscall(SYS_write, setup->report_fd, &failure, sizeof(failure));
    syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

/// Starts a child that leads a process group of its own (with `terminal`, a session of its own with
/// `stdin_fd`, a terminal, as its controlling terminal), takes `stdin_fd` as standard input and
/// `output_fd` as standard output and error, optionally the given credentials, then execs.
///
/// The common path (no credentials, no terminal) uses vfork: the child borrows the parent's memory
/// and stack until it execs, as posix_spawn's clone does, but without posix_spawn's separate child
/// stack, whose munmap in a many-threaded process costs a TLB shootdown on every other CPU. The
/// rare paths fork.
static int start_child(pid_t *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd,
                       int output_fd, int terminal, const char *directory, int set_credentials, uid_t uid,
                       gid_t gid, const gid_t *groups, int group_count) {
    // The child reports an exec failure through this pipe (closed on a successful exec).
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    const struct child_setup setup = {path, argv, envp, stdin_fd, output_fd, terminal, report[1], directory,
                                      set_credentials, uid, gid, groups, group_count};
    // No handler may run in a vfork child, which shares this thread's memory: every signal is
    // blocked until the child has exec'd, except SIGCHLD, which has no handler (its default is to
    // ignore it). A short command can exit before this thread restores its mask, and a SIGCHLD
    // blocked here would be queued and handed to the main thread instead of dropped.
    sigset_t all, previous;
    sigfillset(&all);
    sigdelset(&all, SIGCHLD);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = (terminal || set_credentials) ? fork() : ETCHA_VFORK();
    if (child == 0) exec_child(&setup);
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
    return start_child(pid, path, argv, envp, stdin_fd, output_fd, 0, directory, set_credentials, uid, gid, groups,
                       group_count);
}

int etcha_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int etcha_has_exited(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return -1;
    return info.si_pid != 0;
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
        error = start_child(pid, path, argv, envp, terminal, terminal, 1, directory, set_credentials, uid, gid,
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
