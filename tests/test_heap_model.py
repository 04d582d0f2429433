"""Property-based test: random mutations of a heap against a plain Python model."""
from __future__ import annotations

import gc

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artgc.heap import Heap

from conftest import mode_supported

MUTATIONS = st.one_of(
    st.tuples(st.just("new"), st.integers(0, 2), st.binary(min_size=0, max_size=16)),
    st.tuples(st.just("set"), st.integers(0, 10 ** 6), st.integers(0, 2), st.integers(-1, 10 ** 6)),
    st.tuples(st.just("write"), st.integers(0, 10 ** 6), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("drop"), st.integers(0, 10 ** 6)),
)
OPS = st.lists(st.one_of(MUTATIONS, st.tuples(st.just("collect"),)), min_size=1, max_size=60)

SHAPES = [(0, 16), (1, 8), (3, 16)]   # (refs, data_bytes) per class


class Model:
    """objects: id -> [class index, refs list, data bytearray]."""

    def __init__(self) -> None:
        self.objs: dict[int, list] = {}
        self.next = 0

    def new(self, ci: int) -> int:
        refs, dbytes = SHAPES[ci]
        self.objs[self.next] = [ci, [None] * refs, bytearray(dbytes)]
        self.next += 1
        return self.next - 1


def compare(h: Heap, model: Model, handles: list, mids: list, classes: list) -> None:
    seen: dict[int, object] = {}
    stack = list(zip(handles, mids))
    while stack:
        hd, mid = stack.pop()
        if mid in seen:
            assert h.same(seen[mid], hd)
            continue
        seen[mid] = hd
        ci, refs, data = model.objs[mid]
        assert h.class_of(hd) == classes[ci].name
        assert h.read_data(hd) == bytes(data)
        for s, r in enumerate(refs):
            got = h.get_ref(hd, s)
            if r is None:
                assert got is None
            else:
                assert got is not None
                stack.append((got, r))


def run_ops(mode: str, ops: list, **heap_kw: object) -> None:
    """Apply ops to a heap and the model; ("collect", kind) runs a cycle of
    that kind (a generational heap), ("collect",) a full one."""
    with Heap("2MiB", mode=mode, verify=True, **heap_kw) as h:
        classes = [h.define_class(f"C{i}", refs=r, data_bytes=d) for i, (r, d) in enumerate(SHAPES)]
        model = Model()
        handles: list = []
        mids: list[int] = []
        for op in ops:
            if op[0] == "new":
                handles.append(h.new(classes[op[1]]))
                mids.append(model.new(op[1]))
                data = op[2][: SHAPES[op[1]][1]]
                h.write_data(handles[-1], data)
                model.objs[mids[-1]][2][: len(data)] = data
            elif not handles:
                continue
            elif op[0] == "set":
                i = op[1] % len(handles)
                ci = model.objs[mids[i]][0]
                nrefs = SHAPES[ci][0]
                if nrefs == 0:
                    continue
                slot = op[2] % nrefs
                if op[3] < 0:
                    h.set_ref(handles[i], slot, None)
                    model.objs[mids[i]][1][slot] = None
                else:
                    j = op[3] % len(handles)
                    h.set_ref(handles[i], slot, handles[j])
                    model.objs[mids[i]][1][slot] = mids[j]
            elif op[0] == "write":
                i = op[1] % len(handles)
                n = SHAPES[model.objs[mids[i]][0]][1]
                data = op[2][:n]
                h.write_data(handles[i], data)
                model.objs[mids[i]][2][: len(data)] = data
            elif op[0] == "drop":
                i = op[1] % len(handles)
                del handles[i], mids[i]
                gc.collect()
            elif op[0] == "collect":
                before = h.verify()
                c = h.collect(op[1] if len(op) > 1 else "full")
                assert c["kind"] in ("young", "full")
                assert h.verify() == before
            compare(h, model, handles, mids, classes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_model_stw(ops):
    run_ops("stw", ops)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_model_minor(ops):
    if not mode_supported("minor"):
        pytest.skip("kernel cannot run mode minor")
    run_ops("minor", ops)
