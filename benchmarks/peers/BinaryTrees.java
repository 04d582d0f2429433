/*
 * The Computer Language Benchmarks Game binary-trees, for artgc's JVM peers.
 *
 * Usage: java BinaryTrees DEPTH [THREADS]
 *
 * Prints exactly the game's text. THREADS (default 1) is how many threads
 * build the short-lived trees of each depth: 1 matches `artgc run binarytrees
 * --mutators 1`; more splits the depths across a fixed pool the way the game's
 * parallel Java programs do. The output is the same either way.
 */
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;

public final class BinaryTrees {
    private static final int MIN_DEPTH = 4;

    private static final class Node {
        Node left, right;
        Node(Node left, Node right) { this.left = left; this.right = right; }
        int check() { return left == null ? 1 : 1 + left.check() + right.check(); }
    }

    private static Node bottomUp(int depth) {
        return depth > 0 ? new Node(bottomUp(depth - 1), bottomUp(depth - 1)) : new Node(null, null);
    }

    private static String depthLine(int depth, int maxDepth) {
        int iterations = 1 << (maxDepth - depth + MIN_DEPTH);
        long check = 0;
        for (int i = 0; i < iterations; i++) check += bottomUp(depth).check();
        return iterations + "\t trees of depth " + depth + "\t check: " + check;
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        int maxDepth = Math.max(MIN_DEPTH + 2, n);
        int stretchDepth = maxDepth + 1;
        StringBuilder out = new StringBuilder();
        out.append("stretch tree of depth ").append(stretchDepth)
           .append("\t check: ").append(bottomUp(stretchDepth).check()).append('\n');
        Node longLived = bottomUp(maxDepth);
        List<String> lines = new ArrayList<>();
        if (threads <= 1) {
            for (int d = MIN_DEPTH; d <= maxDepth; d += 2) lines.add(depthLine(d, maxDepth));
        } else {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<String>> futures = new ArrayList<>();
            for (int d = MIN_DEPTH; d <= maxDepth; d += 2) {
                final int depth = d;
                futures.add(pool.submit(() -> depthLine(depth, maxDepth)));
            }
            for (Future<String> f : futures) lines.add(f.get());
            pool.shutdown();
        }
        for (String l : lines) out.append(l).append('\n');
        out.append("long lived tree of depth ").append(maxDepth)
           .append("\t check: ").append(longLived.check()).append('\n');
        System.out.print(out);
    }
}
