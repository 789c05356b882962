/* Valgrind function wrappers for helgrind and drd on a debug libtcphub.
 *
 * Rust's std Mutex, RwLock and Condvar are futex based on Linux: no
 * pthread call, so helgrind and drd see neither the locks (every access
 * under a std lock is reported as a race) nor their order (no lock-order
 * report is possible). These wrappers, preloaded, tell the tool about each
 * lock and unlock with its reader-writer lock annotations, and about two
 * other hand-overs it cannot see: a crossbeam-channel message (send ->
 * try_recv) and a OnceLock value (initialize -> get). The generic
 * functions wrapped exist as symbols only in an unoptimised (debug) build.
 * x86-64 only (it relies on the Rust ABI returning the 24-byte LockResult
 * through a hidden first pointer argument, and on a guard's first word
 * being its lock, as rustc 1.95 lays them out).
 *
 * Not part of CI. By hand:
 *   gcc -shared -fPIC -O1 -o /tmp/stdsync_hg.so tests/valgrind/stdsync_wrap.c
 *   gcc -shared -fPIC -O1 -DFOR_DRD -o /tmp/stdsync_drd.so tests/valgrind/stdsync_wrap.c
 *   LD_PRELOAD=/tmp/stdsync_hg.so valgrind --tool=helgrind \
 *       --suppressions=tests/c/helgrind.supp ./test_x
 *   LD_PRELOAD=/tmp/stdsync_drd.so valgrind --tool=drd \
 *       --suppressions=tests/c/drd.supp ./test_x
 * The function names are Z-encoded mangled Rust names ('_' is Zu, '$' ZD,
 * '.' Zd, '*' Za, 'Z' ZZ): e.g. the first is
 * _ZN3std4sync6poison5mutex14Mutex$LT$T$GT$4lock17h* (Mutex<T>::lock). */
#include <string.h>
#include <valgrind/valgrind.h>
#ifdef FOR_DRD
#include <valgrind/drd.h>
#else
#include <valgrind/helgrind.h>
#endif
typedef unsigned long W;
#include <stdlib.h>

/* With STDSYNC_NESTED=1 in the environment, each lock taken while this
 * thread holds another is reported with a backtrace (VALGRIND_PRINTF_
 * BACKTRACE): the lock pairs a run nests, to read for their order. */
#define MAXH 64
static __thread W held[MAXH];
static __thread int nh;
static int nested_mode;
__attribute__((constructor)) static void read_nested_mode(void) {
    nested_mode = getenv("STDSYNC_NESTED") != NULL;
}
static void note_acq(W l) {
    if (nested_mode && nh > 0)
        VALGRIND_PRINTF_BACKTRACE("stdsync: lock %#lx taken while holding %#lx (%d held)\n", l,
                                  held[nh - 1], nh);
    if (nh < MAXH) held[nh++] = l;
}
static void note_rel(W l) {
    for (int i = nh - 1; i >= 0; i--)
        if (held[i] == l) {
            for (int j = i; j < nh - 1; j++) held[j] = held[j + 1];
            nh--;
            return;
        }
}
#define ACQ(l, w) do { note_acq((W)(l)); ANNOTATE_RWLOCK_ACQUIRED((void *)(l), (w)); } while (0)
#define REL(l, w) do { note_rel((W)(l)); ANNOTATE_RWLOCK_RELEASED((void *)(l), (w)); } while (0)

/* Per thread: the RwLocks this thread read-holds (a read guard does not
 * point at its RwLock<T> itself, only inside it). */
#define MAXR 64
static __thread W rheld[MAXR];
static __thread int nr;

#define WRAP(name) I_WRAP_SONAME_FNNAME_ZZ(Za, name)

W WRAP(ZuZZN3std4sync6poison5mutex14MutexZDLTZDTZDGTZD4lock17hZa)(W sret, W self) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    CALL_FN_W_WW(r, fn, sret, self);
    ACQ(self, 1);
    return r;
}
W WRAP(ZuZZN3std4sync6poison5mutex14MutexZDLTZDTZDGTZD8tryZulock17hZa)(W sret, W self) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    memset((void *)sret, 0, 24);
    CALL_FN_W_WW(r, fn, sret, self);
    W *p = (W *)sret;
    if (p[0] == self || p[1] == self || p[2] == self) ACQ(self, 1);
    return r;
}
static void rpush(W self) { if (nr < MAXR) rheld[nr++] = self; }
W WRAP(ZuZZN3std4sync6poison6rwlock15RwLockZDLTZDTZDGTZD4read17hZa)(W sret, W self) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    CALL_FN_W_WW(r, fn, sret, self);
    ACQ(self, 0); rpush(self);
    return r;
}
W WRAP(ZuZZN3std4sync6poison6rwlock15RwLockZDLTZDTZDGTZD8tryZuread17hZa)(W sret, W self) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    memset((void *)sret, 0, 24);
    CALL_FN_W_WW(r, fn, sret, self);
    W *p = (W *)sret; int ok = 0;
    for (int i = 0; i < 3; i++) if (p[i] >= self && p[i] - self < 65536) ok = 1;
    if (ok) { ACQ(self, 0); rpush(self); }
    return r;
}
W WRAP(ZuZZN3std4sync6poison6rwlock15RwLockZDLTZDTZDGTZD5write17hZa)(W sret, W self) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    CALL_FN_W_WW(r, fn, sret, self);
    ACQ(self, 1);
    return r;
}
W WRAP(ZuZZN3std4sync6poison7condvar7Condvar4wait17hZa)(W sret, W self, W lock, W poison) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    REL(lock, 1);
    CALL_FN_W_WWWW(r, fn, sret, self, lock, poison);
    ACQ(lock, 1);
    return r;
}
W WRAP(ZuZZN3std4sync6poison7condvar7Condvar12waitZutimeout17hZa)(W sret, W self, W lock, W poison, W secs, W nanos) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    REL(lock, 1);
    CALL_FN_W_6W(r, fn, sret, self, lock, poison, secs, nanos);
    ACQ(lock, 1);
    return r;
}
void WRAP(ZuZZN87ZuZDLTZDstdZdZdsyncZdZdpoisonZdZdmutexZdZdMutexGuardZDLTZDTZDGTZDZDu20ZDasZDu20ZDcoreZdZdopsZdZddropZdZdDropZDGTZD4drop17hZa)(W guard) {
    OrigFn fn; VALGRIND_GET_ORIG_FN(fn);
    REL(((W *)guard)[0], 1);
    CALL_FN_v_W(fn, guard);
}
void WRAP(ZuZZN94ZuZDLTZDstdZdZdsyncZdZdpoisonZdZdrwlockZdZdRwLockWriteGuardZDLTZDTZDGTZDZDu20ZDasZDu20ZDcoreZdZdopsZdZddropZdZdDropZDGTZD4drop17hZa)(W guard) {
    OrigFn fn; VALGRIND_GET_ORIG_FN(fn);
    REL(((W *)guard)[0], 1);
    CALL_FN_v_W(fn, guard);
}
void WRAP(ZuZZN93ZuZDLTZDstdZdZdsyncZdZdpoisonZdZdrwlockZdZdRwLockReadGuardZDLTZDTZDGTZDZDu20ZDasZDu20ZDcoreZdZdopsZdZddropZdZdDropZDGTZD4drop17hZa)(W guard) {
    OrigFn fn; VALGRIND_GET_ORIG_FN(fn);
    W g0 = ((W *)guard)[0], g1 = ((W *)guard)[1];
    int best = -1; W bd = 65536;
    for (int i = 0; i < nr; i++) {
        W k = rheld[i];
        if (g0 >= k && g0 - k < bd) { bd = g0 - k; best = i; }
        if (g1 >= k && g1 - k < bd) { bd = g1 - k; best = i; }
    }
    if (best >= 0) { REL(rheld[best], 0); rheld[best] = rheld[--nr]; }
    CALL_FN_v_W(fn, guard);
}

/* crossbeam-channel: the hand-over of a message is ordered by the slot's
 * state (Release store in write, Acquire load in wait_write); made visible
 * as a happens-before edge keyed on the channel's counter pointer (word 1
 * of Sender/Receiver: the flavor's tag is word 0). */
W WRAP(ZuZZN17crossbeamZuchannel7channel15SenderZDLTZDTZDGTZD4send17hZa)(W sret, W self, W msg) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    ANNOTATE_HAPPENS_BEFORE((void *)((W *)self)[1]);
    CALL_FN_W_WWW(r, fn, sret, self, msg);
    return r;
}
W WRAP(ZuZZN17crossbeamZuchannel7channel17ReceiverZDLTZDTZDGTZD8tryZurecv17hZa)(W sret, W self) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    CALL_FN_W_WW(r, fn, sret, self);
    ANNOTATE_HAPPENS_AFTER((void *)((W *)self)[1]);
    return r;
}

/* OnceLock: get() sees the value through an Acquire load of the Once's
 * state; initialize() publishes it with a Release store. Edge keyed on the
 * OnceLock's address (published after initialize returns). */
W WRAP(ZuZZN3std4sync9onceZulock17OnceLockZDLTZDTZDGTZD3get17hZa)(W self) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    CALL_FN_W_W(r, fn, self);
    ANNOTATE_HAPPENS_AFTER((void *)self);
    return r;
}
W WRAP(ZuZZN3std4sync9onceZulock17OnceLockZDLTZDTZDGTZD10initialize17hZa)(W self, W a, W b, W c, W d, W e) {
    OrigFn fn; W r; VALGRIND_GET_ORIG_FN(fn);
    CALL_FN_W_6W(r, fn, self, a, b, c, d, e);
    ANNOTATE_HAPPENS_BEFORE((void *)self);
    return r;
}
