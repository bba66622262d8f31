/**
 * The libc symbols of the launch path (namespaces, spawn, mounts, credentials, process), in one
 * header-like file, split in small sets opened lazily: dlopen cost grows with the number of
 * symbols (measured ~0.12 ms each; one table of all ~50 cost the init 6–9 ms against ~4 ms for
 * the sets it actually uses), and the container's init pays it on every `run`.
 *
 * @module
 */

/** process symbols. */
export const PROCESS_SYMBOLS = {
  /** int open(const char *path, int flags, mode_t mode);  open(2) */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd);  close(2) */
  close: { parameters: ["i32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t n);  read(2) */
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout); poll(2) */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t n);  write(2) */
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** int fcntl(int fd, int cmd, int arg);  fcntl(2) */
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int close_range(unsigned first, unsigned last, int flags);  close_range(2) */
  close_range: { parameters: ["u32", "u32", "i32"], result: "i32" },
  /** int prctl(int op, unsigned long, unsigned long, unsigned long, unsigned long);  prctl(2) */
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  /** long syscall(long nr, long a, long b, long c);  for setresuid/setresgid */
  syscall_iii: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i32" },
  /** long syscall(long nr, long n, void *p);  for setgroups */
  syscall_ip: { name: "syscall", parameters: ["i64", "i64", "buffer"], result: "i32" },
  /** long syscall(long nr, void *a, void *b);  for capget/capset/pivot_root */
  syscall_pp: { name: "syscall", parameters: ["i64", "buffer", "buffer"], result: "i32" },
  /** long syscall(long nr, long sig, void *act, long oldact, long size);  for rt_sigaction */
  syscall_ipii: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64", "i64"],
    result: "i32",
  },
  /** int prlimit(pid_t pid, int resource, const struct rlimit *new, struct rlimit *old);  prlimit(2) */
  prlimit: { parameters: ["i32", "i32", "buffer", "buffer"], result: "i32" },
  /** int sethostname(const char *name, size_t len);  sethostname(2) */
  sethostname: { parameters: ["buffer", "usize"], result: "i32" },
  /** int chdir(const char *path);  chdir(2) */
  chdir: { parameters: ["buffer"], result: "i32" },
  /** int fchdir(int fd);  fchdir(2) */
  fchdir: { parameters: ["i32"], result: "i32" },
  /** mode_t umask(mode_t mask);  umask(2) */
  umask: { parameters: ["u32"], result: "u32" },
  /** sighandler_t signal(int sig, sighandler_t handler);  signal(2) — used to reset to SIG_DFL */
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
  /** int sigprocmask(int how, const sigset_t *set, sigset_t *old);  sigprocmask(2) */
  sigprocmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** int execve(const char *path, char *const argv[], char *const envp[]);  execve(2) */
  execve: { parameters: ["buffer", "pointer", "pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** process symbols only the engine side uses (kept out of the init's set). */
export const ENGINE_PROCESS_SYMBOLS = {
  /** int pipe2(int fds[2], int flags);  pipe(2) */
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  /** int memfd_create(const char *name, unsigned int flags);  memfd_create(2) */
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  /** int mkfifo(const char *path, mode_t mode);  mkfifo(3) */
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  /** int chroot(const char *path);  chroot(2) */
  chroot: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** mount symbols. */
export const MOUNT_SYMBOLS = {
  /** int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data);  mount(2) */
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  /** int umount2(const char *target, int flags);  umount(2) */
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  /** int close(int fd);  close(2) (of the fsopen context fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** int mknod(const char *path, mode_t mode, dev_t dev);  mknod(2) */
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  /** int mkdirat(int dirfd, const char *path, mode_t mode);  mkdir(2) */
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int openat(int dirfd, const char *path, int flags, mode_t mode);  open(2) */
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  /** long syscall(SYS_openat2, int dirfd, const char *path, struct open_how *how, size_t size);  openat2(2) */
  openat2: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "buffer", "usize"],
    result: "i32",
  },
  /** long syscall(SYS_mount_setattr, int dirfd, const char *path, unsigned flags, struct mount_attr *attr, size_t size);  mount_setattr(2) */
  mount_setattr: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "u32", "buffer", "usize"],
    result: "i32",
  },
  /** long syscall(SYS_fsopen, const char *fsname, unsigned flags);  fsopen(2) */
  fsopen: { name: "syscall", parameters: ["i64", "buffer", "u32"], result: "i32" },
  /** long syscall(SYS_fsconfig, int fd, unsigned cmd, const char *key, const void *value, int aux) */
  fsconfig: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "buffer", "buffer", "i32"],
    result: "i32",
  },
  /** long syscall(SYS_fsmount, int fd, unsigned flags, unsigned attr_flags);  fsmount(2) */
  fsmount: { name: "syscall", parameters: ["i64", "i32", "u32", "u32"], result: "i32" },
  /** long syscall(SYS_move_mount, int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags) */
  move_mount: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "i32", "buffer", "u32"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** statfs symbols. */
export const STATFS_SYMBOLS = {
  /** int statfs(const char *path, struct statfs *buf);  statfs(2) */
  statfs: { parameters: ["buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** namespace symbols. */
export const NAMESPACE_SYMBOLS = {
  /** int unshare(int flags);  unshare(2) */
  unshare: { parameters: ["i32"], result: "i32" },
  /** int setns(int fd, int nstype);  setns(2) */
  setns: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** netif symbols. */
export const NETIF_SYMBOLS = {
  /** int socket(int domain, int type, int protocol);  socket(2) */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, void *arg);  ioctl(2) */
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** spawn symbols. */
export const SPAWN_SYMBOLS = {
  /** int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr, char *const argv[], char *const envp[]); */
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
  /** int posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa); */
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  /** int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa); */
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  /** int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa, int fd, int newfd); */
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  /** int posix_spawn_file_actions_addopen(posix_spawn_file_actions_t *fa, int fd, const char *path, int oflag, mode_t mode); */
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  /** int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *fa, int from);  glibc ≥ 2.34 */
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  /** int posix_spawnattr_init(posix_spawnattr_t *attr); */
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  /** int posix_spawnattr_destroy(posix_spawnattr_t *attr); */
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  /** int posix_spawnattr_setflags(posix_spawnattr_t *attr, short flags); */
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  /** int posix_spawnattr_setsigmask(posix_spawnattr_t *attr, const sigset_t *mask); */
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int posix_spawnattr_setsigdefault(posix_spawnattr_t *attr, const sigset_t *set); */
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int sigemptyset(sigset_t *set); */
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  /** int sigfillset(sigset_t *set); */
  sigfillset: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
