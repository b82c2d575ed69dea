#!/usr/bin/env python3
"""Generates the round code of engine/src/backend/x86_shani.rs (hand-scheduled SHA-NI).

Run: python3 scripts/gen_shani_asm.py  (rewrites the lines between the `// BEGIN ROUNDS n` /
`// END ROUNDS n` markers of the Rust file; the kernels are tested against sha2).

Register plan for N <= 4 streams (16 xmm, no spills):
  xmm0            the implicit rnds2 message operand (renamed freely)
  xmm1+2s, 2+2s   ABEF / CDGH of stream s (the whole block stays in registers)
  xmm9+s          W(i-1) of stream s (the message schedule's critical input)
  xmm13/14/15     temporaries
Older schedule words go through a 16-byte-aligned stack buffer `w` (memory operands of
sha256msg1 / palignr); W(i-1), on the schedule's critical path, never waits on a store
forward. Round constants come from the aligned `K` table.

Operands: {st} states (ABEF|CDGH words), {w} schedule buffer, {k} constants, {m} byte-swap mask, {b0}..{b3} blocks.
"""

def gen(n, outer=False):
    """Round code for `n` streams. With `outer`, the message is the HMAC outer block built in
    registers from the inner digest in {st} (never stored as bytes), and the chaining state is
    the outer key state at {o0}..{o3} (standard word order, converted here)."""
    out = []

    def emit(s):
        out.append(s)

    def a(s):
        return f"xmm{1 + 2 * s}"

    def c(s):
        return f"xmm{2 + 2 * s}"

    def p(s):
        return f"xmm{9 + s}"

    def w(s, i):
        return f"xmmword ptr [{{w}} + {(i * n + s) * 16}]"

    def load_standard(s, abef, cdgh, tmp):
        # [a..h] words -> ABEF / CDGH registers.
        emit(f"movdqu {tmp}, xmmword ptr [{{o{s}}}]")
        emit(f"movdqu {cdgh}, xmmword ptr [{{o{s}}} + 16]")
        emit(f"pshufd {tmp}, {tmp}, 0xb1")
        emit(f"pshufd {cdgh}, {cdgh}, 0x1b")
        emit(f"movdqa {abef}, {tmp}")
        emit(f"palignr {abef}, {cdgh}, 8")
        emit(f"pblendw {cdgh}, {tmp}, 0xf0")

    for s in range(n):
        if not outer:
            emit(f"movdqu {a(s)}, xmmword ptr [{{st}} + {32 * s}]")
            emit(f"movdqu {c(s)}, xmmword ptr [{{st}} + {32 * s + 16}]")
            continue
        # Inner digest (ABEF / CDGH) -> message words W0 = (a, b, c, d), W1 = (e, f, g, h).
        emit(f"movdqu xmm13, xmmword ptr [{{st}} + {32 * s}]")
        emit(f"movdqu xmm14, xmmword ptr [{{st}} + {32 * s + 16}]")
        emit("pshufd xmm13, xmm13, 0x1b")
        emit("pshufd xmm14, xmm14, 0x1b")
        emit("movdqa xmm15, xmm13")
        emit("punpcklqdq xmm13, xmm14")
        emit("punpckhqdq xmm15, xmm14")
        emit(f"movdqa {w(s, 0)}, xmm13")
        emit(f"movdqa {w(s, 1)}, xmm15")
        # W2, W3: 0x80 after the 32-byte digest, zeros, bit length 768 (key block + digest).
        emit("movdqa xmm13, xmmword ptr [{pad}]")
        emit(f"movdqa {w(s, 2)}, xmm13")
        emit("movdqa xmm13, xmmword ptr [{pad} + 16]")
        emit(f"movdqa {w(s, 3)}, xmm13")
        emit(f"movdqa {p(s)}, xmm13")
        load_standard(s, a(s), c(s), "xmm13")
    def rounds(t, wk_src, s):
        emit(f"movdqa xmm0, {t}")
        emit(f"sha256rnds2 {c(s)}, {a(s)}")
        emit(f"pshufd xmm0, {t}, 0x0e")
        emit(f"sha256rnds2 {a(s)}, {c(s)}")

    # Groups 0-3: message words from the blocks (or the outer block), unrolled.
    for i in range(4):
        for s in range(n):
            t = "xmm13" if s % 2 == 0 else "xmm15"
            if outer:
                emit(f"movdqa {t}, {w(s, i)}")
            else:
                emit(f"movdqu {t}, xmmword ptr [{{b{s}}} + {16 * i}]")
                emit(f"pshufb {t}, xmmword ptr [{{m}}]")
                if i == 3:
                    emit(f"movdqa {p(s)}, {t}")
                emit(f"movdqa {w(s, i)}, {t}")
            emit(f"paddd {t}, xmmword ptr [{{k}} + {16 * i}]")
            rounds(t, None, s)
    # Groups 4-15: one loop (a small body stays in the op cache; the unrolled 64 groups of
    # long SHA encodings were front-end bound and alignment sensitive). {q} points 2 rows
    # before the row being written, so the rows read are within disp8 reach.
    emit(f"lea {{q}}, [{{w}} + {2 * n * 16}]")
    emit("add {k}, 64")
    emit("mov {cnt}, 12")
    emit("2:")
    for s in range(n):
        t = "xmm13" if s % 2 == 0 else "xmm15"
        row = lambda back: f"xmmword ptr [{{q}} + {(2 - back) * n * 16 + 16 * s}]"
        emit(f"movdqa {t}, {row(4)}")
        emit(f"sha256msg1 {t}, {row(3)}")
        emit(f"movdqa xmm14, {p(s)}")
        emit(f"palignr xmm14, {row(2)}, 4")
        emit(f"paddd {t}, xmm14")
        emit(f"sha256msg2 {t}, {p(s)}")
        emit(f"movdqa {p(s)}, {t}")
        emit(f"movdqa {row(0)}, {t}")
        emit(f"paddd {t}, xmmword ptr [{{k}}]")
        rounds(t, None, s)
    emit(f"add {{q}}, {n * 16}")
    emit("add {k}, 16")
    emit("dec {cnt}")
    emit("jnz 2b")
    # Feed-forward: the saved state is still in memory.
    for s in range(n):
        if outer:
            load_standard(s, "xmm13", "xmm14", "xmm15")
            emit(f"paddd {a(s)}, xmm13")
            emit(f"movdqu xmmword ptr [{{st}} + {32 * s}], {a(s)}")
            emit(f"paddd {c(s)}, xmm14")
            emit(f"movdqu xmmword ptr [{{st}} + {32 * s + 16}], {c(s)}")
            continue
        emit(f"movdqu xmm13, xmmword ptr [{{st}} + {32 * s}]")
        emit(f"paddd {a(s)}, xmm13")
        emit(f"movdqu xmmword ptr [{{st}} + {32 * s}], {a(s)}")
        emit(f"movdqu xmm14, xmmword ptr [{{st}} + {32 * s + 16}]")
        emit(f"paddd {c(s)}, xmm14")
        emit(f"movdqu xmmword ptr [{{st}} + {32 * s + 16}], {c(s)}")
    return out


RUST = "engine/src/backend/x86_shani.rs"


def main():
    src = open(RUST).read()
    for n, outer in [(n, o) for o in (False, True) for n in (1, 2, 3, 4)]:
        kind = "OUTER" if outer else "ROUNDS"
        begin, end = f"// BEGIN {kind} {n}\n", f"// END {kind} {n}"
        head, rest = src.split(begin, 1)
        indent = head[head.rfind("\n") + 1:]
        _, tail = rest.split(end, 1)
        body = "".join(f'{indent}"{line}",\n' for line in gen(n, outer))
        src = head + begin + body + indent + end + tail
    open(RUST, "w").write(src)


if __name__ == "__main__":
    main()
