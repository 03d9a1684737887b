#ifndef ETCHA_CSPAWN_H
#define ETCHA_CSPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` as the leader of a new process group (so the whole group can
/// be killed), with standard input from `stdin_fd`, standard output and error both to `output_fd`,
/// every other descriptor closed, an empty signal mask and default signal dispositions, in
/// `directory` when it is not NULL.
///
/// Not a new session: with the kernel's scheduler autogroups (on by default in Debian's kernels),
/// every new session is a scheduling group of its own, weighted like the whole agent, so concurrent
/// commands would take the CPU from the agent serving them (docs/decisions.md, "Process groups,
/// not sessions").
///
/// With `set_credentials`, the child also takes `groups`, `gid` and `uid` (only root may); that
/// path and the terminal path fork; the common path uses vfork (see start_child in spawn.c).
///
/// Returns 0 and sets `*pid`, or an errno value.
int etcha_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int stdin_fd, int output_fd,
                const char *directory, int set_credentials, uid_t uid, gid_t gid, const gid_t *groups,
                int group_count);

/// pidfd_open(2): a descriptor that becomes readable when `pid` exits, or -1.
int etcha_pidfd_open(pid_t pid);

/// Whether `pid` (a child of the caller) has exited, without reaping it (waitid with WNOWAIT): 1 when
/// it has, 0 when it still runs, -1 on error.
int etcha_has_exited(pid_t pid);

/// An eventfd(2) (close-on-exec, non-blocking) used to wake a poll, or -1.
int etcha_eventfd(void);

/// pipe2(2) with both ends close-on-exec; 0 or -1.
int etcha_pipe(int descriptors[2]);

/// Opens a pseudo-terminal sized `columns` x `rows` and starts `path` on it: the leader of a new
/// session with the terminal as its controlling terminal and as standard input, output and error,
/// with credentials and directory as for `etcha_spawn` (the terminal then belongs to `uid`).
///
/// Returns 0 and sets `*pid` and `*controller` (the controlling side, close-on-exec and
/// non-blocking), or an errno value; when the child started but its exec failed, `*pid` and
/// `*controller` are still set so the caller reaps and closes them.
int etcha_spawn_terminal(pid_t *pid, int *controller, const char *path, char *const argv[], char *const envp[],
                         const char *directory, int set_credentials, uid_t uid, gid_t gid, const gid_t *groups,
                         int group_count, unsigned short columns, unsigned short rows);

/// Sets a terminal's size (the foreground process group gets SIGWINCH); 0 or -1.
int etcha_terminal_resize(int controller, unsigned short columns, unsigned short rows);

#endif
