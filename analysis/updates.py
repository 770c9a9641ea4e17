"""What RL changed in the weights: update sparsity, rank and seed overlap, streamed tensor by tensor.

A parameter is *updated* between base and tuned checkpoint under four criteria, all
reported side by side (docs/updates.md has the full key reference):

* ``exact``: the stored values differ (IEEE ``!=`` in the stored dtype; float32 when the
  two sides store different dtypes);
* ``tol``: ``|tuned - base| > tol`` with the difference taken in float32;
* ``bf16``: the values differ after casting both sides to bfloat16 (the reference script
  loads both models in bf16 and counts ``delta != 0``; equals ``exact`` on bf16 checkpoints);
* ``paper``: ``not isclose(delta_bf16, 0, atol=1e-5)`` exactly as the reference
  (Mukherjee et al. 2025, arXiv 2505.11711) computes it in bf16.

Memory: the driver holds, per tensor, one row chunk of the base and of each tuned input
plus fixed-size work buffers, so peak memory does not grow with model size. ``--rank``
additionally builds one float32 delta matrix at a time (plus SVD workspace).
Seed statistics stream too: every tuned input is read chunk by chunk in the same pass,
so the intersections of the updated sets are counted without holding any mask past its chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

from rl_lab.analysis.checkpoint_io import Checkpoint, TensorInfo, TensorReader, row_chunks
from rl_lab.analysis.settings import UpdatesSettings
from rl_lab.analysis.update_result import PerTensor, assemble_result
from rl_lab.analysis.update_stats import (
    CRITERIA,
    FLOAT_DTYPES,
    Counts,
    is_rank_matrix,
    numerical_rank,
    paper_close_bound,
)
from rl_lab.core.errors import InputError

_ITEMSIZE = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8}


class UpdateAnalysisError(InputError):
    """The inputs cannot be compared; the message lists every problem found, before any computation."""


# --------------------------------------------------------------------------- planning
@dataclass
class PlanEntry:
    name: str
    base: TensorInfo
    tuned: list[TensorInfo]
    dtype: str  # base's torch dtype name
    compared_in: str  # the dtype the exact criterion compares in
    tied_to: str | None = None


def plan(base: Checkpoint, tuned: list[Checkpoint], settings: UpdatesSettings) -> tuple[list[PlanEntry], dict[str, list]]:
    """Which tensors to compare; every problem is collected before any error is raised."""
    inputs = [base, *tuned]
    labels = [c.label for c in inputs]
    names = sorted(set().union(*(c.tensors for c in inputs)))
    entries: list[PlanEntry] = []
    report: dict[str, list] = {"skipped": [], "tied": [], "dtype_mismatches": []}
    errors: list[str] = []
    for name in names:
        infos = [c.tensors.get(name) for c in inputs]
        present = [lab for lab, i in zip(labels, infos, strict=True) if i is not None]
        if len(present) < len(inputs):
            missing = [lab for lab, i in zip(labels, infos, strict=True) if i is None]
            report["skipped"].append({"name": name, "reason": "missing", "present_in": present, "missing_from": missing})
            if settings.strict:
                errors.append(f"{name}: missing from {missing} (present in {present})")
            continue
        dtypes = [i.dtype for i in infos]
        if any(d not in FLOAT_DTYPES for d in dtypes):
            report["skipped"].append({"name": name, "reason": "not floating point", "dtypes": dict(zip(labels, dtypes, strict=True))})
            continue
        tied_in = [c.label for c in inputs if name in c.aliases]
        tied_to = next((c.aliases[name] for c in inputs if name in c.aliases), None)
        if tied_in:
            if len(tied_in) == len(inputs):
                report["tied"].append({
                    "name": name, "tied_to": tied_to, "tied_in": tied_in,
                    "treatment": "identical to the embedding in every input: counted once, under the embedding",
                })
                continue
            report["tied"].append({
                "name": name, "tied_to": tied_to, "tied_in": tied_in,
                "treatment": "compared; where tied, the embedding stands in for it (as transformers loads it)",
            })
        shapes = [i.shape for i in infos]
        if len(set(shapes)) > 1:
            detail = {lab: list(s) for lab, s in zip(labels, shapes, strict=True)}
            if settings.skip_mismatched:
                report["skipped"].append({"name": name, "reason": "shape mismatch", "shapes": detail})
            else:
                errors.append(f"{name}: shape mismatch {detail}")
            continue
        compared_in = FLOAT_DTYPES[dtypes[0]]
        if len(set(dtypes)) > 1:
            detail = {lab: FLOAT_DTYPES[d] for lab, d in zip(labels, dtypes, strict=True)}
            report["dtype_mismatches"].append({"name": name, "dtypes": detail, "compared_in": "float32"})
            if settings.strict:
                errors.append(f"{name}: dtype mismatch {detail}")
            compared_in = "float32"
        entries.append(PlanEntry(name, infos[0], infos[1:], FLOAT_DTYPES[dtypes[0]], compared_in,
                                 tied_to if tied_in else None))
    if errors:
        hint = (
            "compare checkpoints of the same architecture; --skip-mismatched skips shape mismatches, "
            "and without --strict dtype mismatches are compared in float32 and missing tensors are skipped"
        )
        raise UpdateAnalysisError(
            f"{len(errors)} tensor(s) cannot be compared between {labels}:\n  " + "\n  ".join(errors) + f"\n({hint})"
        )
    if not entries:
        raise UpdateAnalysisError(f"no tensor is common to all inputs {labels}; are these checkpoints of one model?")
    file_order = {f: k for k, f in enumerate(base.files)}
    entries.sort(key=lambda e: (file_order.get(e.base.file, 0), e.base.order))
    return entries, report


# --------------------------------------------------------------------------- streaming core
class _Workspace:
    """Flat work buffers reused across chunks: fresh multi-MB allocations cost page faults."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._bufs: dict[str, Any] = {}

    def get(self, key: str, n: int, dtype):
        import torch

        buf = self._bufs.get(key)
        if buf is None or buf.numel() < n or buf.dtype != dtype:
            buf = torch.empty(n, dtype=dtype, device=self.device)
            self._bufs[key] = buf
        return buf[:n]


def chunk_counts(base, tuned: list, pairs: list[tuple[int, int]], tol: float, bound: float, ws: _Workspace) -> Counts:
    """Counts for one flat chunk: ``base`` and each of ``tuned`` are 1-D tensors of equal length."""
    import torch

    n = base.numel()
    k = len(tuned)
    out = Counts.zeros(n, k, len(pairs))
    f32, bf16 = torch.float32, torch.bfloat16
    same = all(t.dtype == base.dtype for t in tuned)
    shortcut = same and base.dtype == bf16  # bf16 on both sides: paper delta == float32 delta
    b32 = ws.get("b32", n, f32).copy_(base)
    if not shortcut:
        b16 = ws.get("b16", n, bf16).copy_(base)
        pb32 = ws.get("pb32", n, f32).copy_(b16)
    deltas, pdeltas, masks = [], [], []
    for i, t in enumerate(tuned):
        d = ws.get(f"d{i}", n, f32).copy_(t)
        m = [ws.get(f"m{i}_{c}", n, torch.bool) for c in CRITERIA]
        if same:
            torch.eq(base, t, out=m[0])  # exact, in the stored dtype
        else:
            torch.eq(b32, d, out=m[0])
        d.sub_(b32)
        if shortcut:
            pd = d
            m[2] = m[0]
        else:
            t16 = ws.get("t16", n, bf16).copy_(t)
            torch.eq(b16, t16, out=m[2])
            pd = ws.get(f"p{i}", n, f32).copy_(t16).sub_(pb32)
        out.sumsq[i] = float(torch.dot(d, d))
        deltas.append(d)
        pdeltas.append(pd)
        masks.append(m)
    for p, (i, j) in enumerate(pairs):
        out.dots[p] = float(torch.dot(deltas[i], deltas[j]))
    for i in range(k):
        m = masks[i]
        ad = deltas[i].abs_()
        torch.le(ad, tol, out=m[1])
        apd = ad if pdeltas[i] is deltas[i] else pdeltas[i].abs_()
        torch.le(apd, bound, out=m[3])  # NaN compares False: updated, as isclose says
        counted = [int(torch.count_nonzero(mask)) if c != 2 or not shortcut else None for c, mask in enumerate(m)]
        counted[2] = counted[0] if shortcut else counted[2]
        out.unchanged[i] = counted
    both = ws.get("both", n, torch.bool) if pairs else None
    for p, (i, j) in enumerate(pairs):
        out.both_unchanged[p] = [
            int(torch.count_nonzero(torch.logical_and(masks[i][c], masks[j][c], out=both))) for c in range(len(CRITERIA))
        ]
    return out


def _delta_matrix(reader: TensorReader, entry: PlanEntry, t: int, settings: UpdatesSettings):
    """The full delta of one 2-D tensor in float32, built by rows; taken in the compared dtype
    (bf16 checkpoints: the bf16 difference, exactly as the reference takes it)."""
    import torch

    out = torch.empty(entry.base.shape, dtype=torch.float32, device=settings.device)
    for rng in row_chunks(entry.base.shape, settings.chunk_elements):
        b = reader.read(entry.base, *rng).to(settings.device)
        x = reader.read(entry.tuned[t], *rng).to(settings.device)
        if b.dtype == x.dtype:
            out[rng[0]:rng[1]] = (x - b).float()
        else:
            out[rng[0]:rng[1]] = x.float() - b.float()
    return out


def _check_device(device: str) -> None:
    import torch

    if device == "cpu":
        return
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UpdateAnalysisError(
                f"--device {device}: CUDA is not available here (torch {torch.__version__}, "
                f"built with CUDA {torch.version.cuda}); use --device cpu"
            )
        return
    raise UpdateAnalysisError(f"--device {device!r}: expected 'cpu' or 'cuda' (or 'cuda:<index>')")


def analyze_updates(
    base: Checkpoint, tuned: list[Checkpoint], settings: UpdatesSettings | None = None, progress: bool = True
) -> dict[str, Any]:
    """Stream every common tensor once (chunk by chunk, all tuned inputs together); return the result dict."""
    import torch

    settings = settings or UpdatesSettings()
    if not tuned:
        raise UpdateAnalysisError("no tuned input: pass at least one --tuned checkpoint")
    if settings.tol < 0 or settings.paper_atol < 0:
        raise UpdateAnalysisError("--tol must be >= 0")
    if settings.chunk_elements < 1 or settings.threads < 0:
        raise UpdateAnalysisError("--chunk-elements must be >= 1 and --threads >= 0")
    _check_device(settings.device)
    entries, report = plan(base, tuned, settings)
    k = len(tuned)
    pairs = list(combinations(range(k), 2))
    bound = paper_close_bound(settings.paper_atol)
    ws = _Workspace(settings.device)
    default_threads = torch.get_num_threads()
    try:
        per_tensor = _stream(entries, k, pairs, bound, ws, settings, progress, default_threads)
    finally:
        torch.set_num_threads(default_threads)
    return assemble_result(base, tuned, settings, bound, pairs, per_tensor, report)


def _stream(entries: list[PlanEntry], k: int, pairs: list[tuple[int, int]], bound: float, ws: _Workspace,
            settings: UpdatesSettings, progress: bool, default_threads: int,
            ) -> PerTensor:
    import torch
    from tqdm import tqdm

    stream_threads = settings.threads or default_threads

    per_tensor: PerTensor = []
    total_bytes = sum(e.base.numel * _ITEMSIZE[e.base.dtype] for e in entries)
    with TensorReader() as reader, torch.inference_mode(), tqdm(
        total=total_bytes, unit="B", unit_scale=True, desc="updates", disable=None if progress else True
    ) as bar:
        for entry in entries:
            torch.set_num_threads(stream_threads)
            counts = Counts.zeros(0, k, len(pairs))
            for rng in row_chunks(entry.base.shape, settings.chunk_elements):
                span = () if rng is None else rng
                b = reader.read(entry.base, *span).reshape(-1).to(settings.device)
                ts = [reader.read(info, *span).reshape(-1).to(settings.device) for info in entry.tuned]
                counts.add(chunk_counts(b, ts, pairs, settings.tol, bound, ws))
                bar.update(b.numel() * b.element_size())
            ranks: list[dict[str, Any] | None] = [None] * k
            if settings.rank and is_rank_matrix(entry.name, entry.base.shape):
                torch.set_num_threads(default_threads)  # SVD is compute-bound: all threads
                for t in range(k):
                    ranks[t] = numerical_rank(_delta_matrix(reader, entry, t, settings))
            per_tensor.append((entry, counts, ranks))
    return per_tensor
