/*
 * Ellis, Kovac and Boehm's GCBench as artgc's `gcbench` workload runs it
 * (heap/workloads/gcbench.c): the same sizes, the same text, the same checks.
 *
 * Usage: java GCBench SIZE [THREADS]
 *
 * SIZE (4..24, 16 = the original) is kMaxTreeDepth = kLongLivedTreeDepth;
 * kStretchTreeDepth = SIZE + 2, kMinTreeDepth = 4, kArraySize = 500000 *
 * 2^(SIZE - 16) doubles (at least 2002). Each of THREADS threads runs its own
 * copy of the program; thread 0 prints the text (no timings) and the run
 * ends with "gcbench checks: ok" when every copy's long-lived tree and array
 * are intact.
 */
import java.util.concurrent.atomic.AtomicInteger;

public final class GCBench {
    static final int MIN_DEPTH = 4;
    static final long NODE_BYTES = 8 + 2 * 8 + 8;  // artgc's GCBenchNode: header, 2 refs, 8 data bytes

    static final class Node {
        Node left, right;
        int i, j;

        Node(Node l, Node r) { left = l; right = r; }
        Node() { }
    }

    static long treeSize(int d) { return (2L << d) - 1; }

    static void populate(int depth, Node n) {
        if (depth <= 0) return;
        depth--;
        n.left = new Node();
        n.right = new Node();
        populate(depth, n.left);
        populate(depth, n.right);
    }

    static Node topDown(int depth) {
        Node n = new Node();
        populate(depth, n);
        return n;
    }

    static Node makeTree(int depth) {
        return depth <= 0 ? new Node() : new Node(makeTree(depth - 1), makeTree(depth - 1));
    }

    static long count(Node n, boolean[] bad) {
        if (n.left == null && n.right == null) return 1;
        if (n.left == null || n.right == null) {
            bad[0] = true;
            return 1 + (n.left != null ? count(n.left, bad) : count(n.right, bad));
        }
        return 1 + count(n.left, bad) + count(n.right, bad);
    }

    static double expected(long i, long size) { return i < size / 2 ? 1.0 / (double) i : 0.0; }

    final int stretch, longLived, maxDepth;
    final long arraySize;
    final StringBuilder out = new StringBuilder();
    final AtomicInteger passed = new AtomicInteger();
    volatile String error;

    GCBench(int n) {
        maxDepth = n;
        longLived = n;
        stretch = n + 2;
        long a = n >= 16 ? 500000L << (n - 16) : 500000L >> (16 - n);
        arraySize = Math.max(a, 2002);
    }

    void print(boolean p, String s) {
        if (p) synchronized (out) { out.append(s); }
    }

    void thread(int tid) {
        boolean p = tid == 0;
        print(p, "Garbage Collector Test\n");
        print(p, " Live storage will peak at " + (2 * NODE_BYTES * treeSize(longLived) + 8 * arraySize)
              + " bytes.\n\n");
        print(p, " Stretching memory with a binary tree of depth " + stretch + "\n");
        makeTree(stretch);
        print(p, " Creating a long-lived binary tree of depth " + longLived + "\n");
        Node ll = topDown(longLived);
        print(p, " Creating a long-lived array of " + arraySize + " doubles\n");
        double[] array = new double[(int) arraySize];
        for (int i = 0; i < arraySize / 2; i++) array[i] = 1.0 / i;
        for (int d = MIN_DEPTH; d <= maxDepth; d += 2) {
            long iters = 2 * treeSize(stretch) / treeSize(d);
            print(p, "Creating " + iters + " trees of depth " + d + "\n");
            for (long i = 0; i < iters; i++) topDown(d);
            for (long i = 0; i < iters; i++) makeTree(d);
        }
        boolean[] bad = {false};
        long nodes = count(ll, bad);
        if (bad[0] || nodes != treeSize(longLived)) {
            error = "gcbench: the long-lived tree of depth " + longLived + " has " + nodes
                + " nodes, expected " + treeSize(longLived);
            return;
        }
        for (int i = 0; i < arraySize; i++) {
            if (Double.doubleToRawLongBits(array[i]) != Double.doubleToRawLongBits(expected(i, arraySize))) {
                error = "gcbench: check failed: array[" + i + "] is " + array[i];
                return;
            }
        }
        passed.incrementAndGet();
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        GCBench b = new GCBench(n);
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final int tid = t;
            ts[t] = new Thread(() -> {
                try {
                    b.thread(tid);
                } catch (Throwable e) {  // OutOfMemoryError above all: the run fails, as artgc's does
                    b.error = "gcbench: thread " + tid + ": " + e;
                }
            }, "gcbench-" + t);
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        if (b.passed.get() == threads) b.out.append("gcbench checks: ok\n");
        System.out.print(b.out);
        if (b.error != null) {
            System.err.println(b.error);
            System.exit(1);
        }
    }
}
