"""tb/coverage/model.py's memoised sampling counts exactly what cocotb-coverage counts: every covergroup is
sampled with random argument tuples (bins of its own coverpoints, values outside every bin, flag sets,
many repeats), then the same sequence is replayed through cocotb-coverage alone; each bin's hit count must
be equal. Seeded: the failing covergroup and seed are in the assertion message."""
import inspect
import random

from tb.coverage import model

SEED = 20261203


def _vocabulary() -> dict[str, list]:
    """Argument name -> candidate values: every bin of every coverpoint sampling it, plus a value no bin has."""
    vocab: dict[str, list] = {}
    for item in model.items().values():
        vname = getattr(item, "_vname", None)
        if vname is None:
            continue
        flag = not getattr(item, "_injection", True)
        bins = list(item._hits)
        vals = vocab.setdefault(vname, ["<no bin>"])
        vals.extend({"flag": bins} if flag else bins)
    return vocab


def _value(rng, values):
    v = rng.choice(values)
    if isinstance(v, dict):        # a flag point's argument: a set of bin names
        return set(rng.sample(v["flag"], rng.randrange(len(v["flag"]) + 1)))
    return v


def _sequence(rng):
    vocab = _vocabulary()
    seq = []
    samplers = sorted(n for n in dir(model) if n.startswith("sample_"))
    for name in samplers:
        params = list(inspect.signature(getattr(model, name).__wrapped__).parameters)
        tuples = [tuple(_value(rng, vocab.get(p, ["<no bin>"])) for p in params) for _ in range(6)]
        seq += [(name, rng.choice(tuples)) for _ in range(60)]
    rng.shuffle(seq)
    return samplers, seq


def test_memoised_hits_equal_cocotb_coverage():
    rng = random.Random(SEED)
    samplers, seq = _sequence(rng)
    assert len(samplers) > 20, samplers
    base = model.hits()
    for name, args in seq:
        getattr(model, name)(*args)
    memo = model.hits()
    saved = {name: dict(item._hits) for name, item in model.items().items()}
    # replay through cocotb-coverage itself, from zero
    for item in model.items().values():
        for b in item._hits:
            item._hits[b] = 0
    for name, args in seq:
        getattr(model, name).__wrapped__(*args)
    raw = model.hits()
    for name, item in model.items().items():     # leave the counts as the memoised run left them
        item._hits.update(saved[name])
    for item, bins in raw.items():
        for b, n in bins.items():
            assert memo[item][b] - base[item][b] == n, (item, b, f"seed {SEED}")
    assert sum(n for bins in raw.values() for n in bins.values()) > 1000    # the sequence did hit bins
