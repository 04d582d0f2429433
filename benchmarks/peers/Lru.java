/*
 * artgc's `lru` workload on the JVM: the same requests, the same cache, the
 * same output for a seed as heap/workloads/lru.c.
 *
 * Usage: java Lru SIZE SEED THREADS LIVE_BYTES [LATENCY_FILE [WARMUP]]
 *
 * SIZE thousand requests split evenly across THREADS; each thread owns a
 * shard: a cache of (LIVE_BYTES / 824, or 8192 when LIVE_BYTES is 0) /
 * THREADS entries (at least 64) over a key space four times as large; keys
 * key = K * u^2 from the thread's own xoshiro256** seeded by (seed, thread)
 * exactly as wl_rng_seed does, payload lengths and bytes from splitmix64 of
 * the key. A hit verifies every payload byte; 1 hit in 32 then invalidates
 * the entry. Each request's latency and start (ns after the first request's
 * start) are written to LATENCY_FILE as little-endian u64: every latency, then
 * every start, thread by thread; artgc computes the metered latencies from
 * them exactly as for its own lru (artgc.metrics.request_latencies).
 * WARMUP (default 0): each thread first serves that many requests of a
 * throw-away shard (another key stream, its counts discarded), so that the
 * timed requests run JIT-compiled, as DaCapo times its last iteration; the
 * output is the same with or without.
 */
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

public final class Lru {
    static final int CAPACITY = 8192, MIN_SHARD = 64, KEYS_PER_SLOT = 4;
    static final long ENTRY_BYTES = 824;
    static final long GOLDEN = 0x9e3779b97f4a7c15L;

    static long mix64(long z) {
        z += GOLDEN;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** xoshiro256**, seeded as heap/workloads/wl.h's wl_rng_seed. */
    static final class Rng {
        final long[] s = new long[4];

        Rng(long seed, long stream) {
            long x = seed ^ mix64(stream + 0x5851f42d4c957f2dL);
            for (int i = 0; i < 4; i++) {
                x += GOLDEN;
                s[i] = mix64(x);
            }
        }

        long next() {
            long res = Long.rotateLeft(s[1] * 5, 7) * 9;
            long t = s[1] << 17;
            s[2] ^= s[0];
            s[3] ^= s[1];
            s[1] ^= s[2];
            s[0] ^= s[3];
            s[2] ^= t;
            s[3] = Long.rotateLeft(s[3], 45);
            return res;
        }

        /** Uniform in [0, n): the high 64 bits of next() * n, unsigned. */
        long below(long n) {
            long a = next();
            return Math.multiplyHigh(a, n) + ((a >> 63) & n) + ((n >> 63) & a);
        }
    }

    static final class Entry {
        final long key, len;
        final byte[] payload;

        Entry(long key, long len, byte[] payload) { this.key = key; this.len = len; this.payload = payload; }
    }

    static long keyId(long seed, int tid, long key) { return mix64(seed ^ mix64(((long) tid << 32) | key)); }

    static long payloadLen(long id) {
        long h = mix64(id ^ 0x6c72756c656e6774L);
        long lo = 16L << (h & 7);
        return lo + Long.remainderUnsigned(h >>> 8, lo);
    }

    static long payloadWord(long id, long w) { return mix64(id + w * GOLDEN); }

    static byte[] payload(long id, int len) {
        byte[] d = new byte[len];
        for (int w = 0; 8 * w < len; w++) {
            long v = payloadWord(id, w);
            for (int j = 0; j < 8 && 8 * w + j < len; j++) d[8 * w + j] = (byte) (v >>> (8 * j));
        }
        return d;
    }

    static final class Shard implements Runnable {
        final int tid, cap, nkeys;
        final long seed, nreq;
        final long[] tStart, tEnd;
        long hits, misses, evictions, invalidations, done;
        String error;

        Shard(int tid, int cap, long seed, long nreq) {
            this.tid = tid;
            this.cap = cap;
            this.nkeys = cap * KEYS_PER_SLOT;
            this.seed = seed;
            this.nreq = nreq;
            this.tStart = new long[(int) nreq];
            this.tEnd = new long[(int) nreq];
        }

        public void run() {
            try {
                serve();
            } catch (Throwable e) {  // OutOfMemoryError above all: the run fails, as artgc's does
                error = "lru: thread " + tid + ": " + e;
            }
        }

        void serve() {
            int[] where = new int[nkeys];
            Arrays.fill(where, -1);
            int[] keyOf = new int[cap], prev = new int[cap], next = new int[cap], free = new int[cap];
            for (int i = 0; i < cap; i++) free[i] = cap - 1 - i;
            int nfree = cap;
            int[] ht = {-1, -1};  // head (most recent), tail (least recent)
            Entry[] vals = new Entry[cap];
            Rng rng = new Rng(seed, 0x6c7275L + tid);
            for (int r = 0; r < nreq; r++) {
                long t0 = System.nanoTime();
                long u = rng.next() >>> 32;
                int key = (int) ((((u * u) >>> 32) * nkeys) >>> 32);
                long id = keyId(seed, tid, key);
                int slot = where[key];
                if (slot >= 0) {
                    hits++;
                    Entry e = vals[slot];
                    if (!verify(e, key, id)) {
                        error = "lru: thread " + tid + ", key " + key + ": the entry changed";
                        return;
                    }
                    unlink(prev, next, ht, slot);
                    if (rng.below(32) == 0) {
                        vals[slot] = null;
                        where[key] = -1;
                        free[nfree++] = slot;
                        invalidations++;
                    } else {
                        pushFront(prev, next, ht, slot);
                    }
                } else {
                    misses++;
                    long len = payloadLen(id);
                    Entry e = new Entry(key, len, payload(id, (int) len));
                    if (nfree > 0) {
                        slot = free[--nfree];
                    } else {
                        slot = ht[1];
                        unlink(prev, next, ht, slot);
                        where[keyOf[slot]] = -1;
                        evictions++;
                    }
                    vals[slot] = e;
                    where[key] = slot;
                    keyOf[slot] = key;
                    pushFront(prev, next, ht, slot);
                }
                tStart[r] = t0;
                tEnd[r] = System.nanoTime();
                done = r + 1;
            }
        }

        static boolean verify(Entry e, long key, long id) {
            long len = payloadLen(id);
            return e != null && e.key == key && e.len == len && e.payload.length == len
                && Arrays.equals(e.payload, payload(id, (int) len));
        }

        static void unlink(int[] prev, int[] next, int[] ht, int i) {
            if (prev[i] >= 0) next[prev[i]] = next[i]; else ht[0] = next[i];
            if (next[i] >= 0) prev[next[i]] = prev[i]; else ht[1] = prev[i];
        }

        static void pushFront(int[] prev, int[] next, int[] ht, int i) {
            prev[i] = -1;
            next[i] = ht[0];
            if (ht[0] >= 0) prev[ht[0]] = i; else ht[1] = i;
            ht[0] = i;
        }
    }

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        long seed = Long.parseUnsignedLong(args[1]);
        int threads = Integer.parseInt(args[2]);
        long live = Long.parseLong(args[3]);
        String latFile = args.length > 4 ? args[4] : null;
        long warmup = args.length > 5 ? Long.parseLong(args[5]) : 0;
        long entries = live > 0 ? live / ENTRY_BYTES : CAPACITY;
        int cap = (int) Math.max(MIN_SHARD, entries / threads);
        long total = size * 1000;
        Shard[] shards = new Shard[threads];
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            long n = total * (t + 1) / threads - total * t / threads;
            Shard warm = new Shard(t, cap, ~seed, Math.min(n, warmup));
            Shard s = shards[t] = new Shard(t, cap, seed, n);
            ts[t] = new Thread(() -> {
                warm.run();
                if (warm.error == null) s.run(); else s.error = "warm-up: " + warm.error;
            }, "lru-" + t);
        }
        for (Thread t : ts) t.start();
        for (Thread t : ts) t.join();
        long n = 0, hits = 0, misses = 0;
        for (Shard s : shards) {
            if (s.error != null) {
                System.err.println(s.error);
                System.exit(1);
            }
            n += s.done;
            hits += s.hits;
            misses += s.misses;
        }
        if (latFile != null) writeLatencies(shards, n, latFile);
        System.out.print("lru: requests " + n + " hits " + hits + " misses " + misses + "\n");
    }

    static void writeLatencies(Shard[] shards, long n, String path) throws IOException {
        long[] lat = new long[(int) n], start = new long[(int) n];
        long first = Long.MAX_VALUE;
        for (Shard s : shards)
            if (s.done > 0) first = Math.min(first, s.tStart[0]);
        int k = 0;
        for (Shard s : shards) {
            for (int i = 0; i < s.done; i++, k++) {
                lat[k] = s.tEnd[i] - s.tStart[i];
                start[k] = s.tStart[i] - first;
            }
        }
        ByteBuffer b = ByteBuffer.allocate(16 * (int) n).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : lat) b.putLong(v);
        for (long v : start) b.putLong(v);
        try (DataOutputStream o = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(path)))) {
            o.write(b.array());
        }
    }
}
