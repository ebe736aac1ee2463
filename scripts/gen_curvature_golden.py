#!/usr/bin/python3
"""Extra golden cases for the curvature optimizers (muon, mfac, sophia_g,
sophia_h, adahessian), produced by running the authors' own code on PyTorch 1.13
(Debian's /usr/bin/python3). Writes tests/golden/data/extra/<name>__<variant>.json.

The references are read from git mirrors (fetched with the project's `fetch`
tool, or any clone at the named commits): set MIRRORS to the directory holding
KellerJordan+Muon, IST-DASLab+M-FAC, Liuhong99+Sophia, amirgholami+adahessian
(each with a bare `repo`), or pass --mirrors. Shims are those of the shared
cases (tests/golden/data/*.json reference.notes) and are repeated in each case.

Usage: scripts/gen_curvature_golden.py [--mirrors DIR] [--out DIR] [--only NAME]
"""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import types

import torch

torch.set_num_threads(1)

REFS = {
    "muon": ("KellerJordan/Muon", "857d1adc159e098212f828d927460782d3da59e9", "muon.py"),
    "mfac": ("IST-DASLab/M-FAC", "8116367fb537b48484e2e4bde24f11f42b117f8a", "optim.py"),
    "sophia_g": ("Liuhong99/Sophia", "a7e157229b71d58cf995d32854f1be15c265b350", "sophia.py"),
    "sophia_h": ("Liuhong99/Sophia", "01af1834a8fc03a64761cf9797b66d49259e36be", "sophia.py"),
    "adahessian": ("amirgholami/adahessian", "85ebc00ce873c8497a64ca80bbfa5d996109efea",
                   "image_classification/optim_adahessian.py"),
}

DATA_NOTE = ("init = 0.5*randn(shape) from torch.Generator().manual_seed(seed) (float64, params drawn in listed "
             "order); grad at step t (1-based) = randn(shape)*0.05*(1+0.5*sin(t)) from "
             "torch.Generator().manual_seed(seed*1000+t) (float64, params in listed order), then cast to the case "
             "dtype; a gradient listed as null is withheld (p.grad = None) at that step.")


def load_module(mirrors, key, tmp):
    repo, commit, path = REFS[key]
    git_dir = os.path.join(mirrors, repo.replace("/", "+"), "repo")
    src = subprocess.check_output(["git", "-C", git_dir, "show", f"{commit}:{path}"]).decode()
    file = os.path.join(tmp, f"ref_{key}.py")
    with open(file, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location(f"ref_{key}", file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, src


def ref_block(key, cls, notes):
    repo, commit, path = REFS[key]
    return {"repo": repo, "commit": commit, "path": path, "class": cls, "notes": notes}


def init_params(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    return [0.5 * torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]


def grads_at(shapes, seed, t):
    g = torch.Generator().manual_seed(seed * 1000 + t)
    return [torch.randn(s, generator=g, dtype=torch.float64) * 0.05 * (1 + 0.5 * math.sin(t)) for s in shapes]


def flat(t):
    return [float(x) for x in t.detach().to(torch.float64).reshape(-1).tolist()]


def param_specs(names, shapes, inits):
    return [{"name": n, "shape": list(s), "init": flat(i)} for n, s, i in zip(names, shapes, inits)]


def write(out_dir, case):
    name = f"{case['optimizer']}__{case['variant']}.json"
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump(case, f)
    print("wrote", name)


def max_abs_diff(a, b):
    return max(max(abs(x - y) for x, y in zip(pa, pb)) for sa, sb in zip(a, b) for pa, pb in zip(sa, sb))


# ---- Muon -------------------------------------------------------------------------------------


def muon_patched(mod, src, dtype_expr, tmp, tag):
    """The reference module with X = G.bfloat16() replaced (one line)."""
    patched = src.replace("X = G.bfloat16()", f"X = G.{dtype_expr}()")
    assert patched != src or dtype_expr == "bfloat16"
    file = os.path.join(tmp, f"ref_muon_{tag}.py")
    with open(file, "w") as f:
        f.write(patched)
    spec = importlib.util.spec_from_file_location(f"ref_muon_{tag}", file)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def run_muon(mod, cls, names, shapes, groups, options, dtype, seed, steps, withheld):
    params = [p.to(dtype).clone().requires_grad_(True) for p in init_params(shapes, seed)]
    by_name = dict(zip(names, params))
    if groups is None:
        opt = getattr(mod, cls)(params, **options)
    else:
        pg = []
        for g in groups:
            d = {k: v for k, v in g.items() if k != "params"}
            if "betas" in d:
                d["betas"] = tuple(d["betas"])
            pg.append(dict(params=[by_name[n] for n in g["params"]], **d))
        opt = getattr(mod, cls)(pg)
    traj, grads_out = [], []
    for t in range(1, steps + 1):
        gs = grads_at(shapes, seed, t)
        row = []
        for i, (p, g) in enumerate(zip(params, gs)):
            if (t, names[i]) in withheld:
                p.grad = None
                row.append(None)
            else:
                p.grad = g.to(dtype).clone()
                row.append(flat(p.grad))
        grads_out.append(row)
        opt.step()
        traj.append([flat(p) for p in params])
    return grads_out, traj


def gen_muon(args, tmp):
    mod, src = load_module(args.mirrors, "muon", tmp)
    m32 = muon_patched(mod, src, "float", tmp, "f32")
    m64 = muon_patched(mod, src, "double", tmp, "f64")
    names = ["w", "k", "t", "b", "s"]
    shapes = [(6, 4), (3, 2, 3, 3), (2, 3, 4), (6,), ()]
    seed = 611
    withheld = {(4, "b"), (6, "w"), (9, "s")}
    cases = [
        ("aux_adam_groups", torch.float64,
         [{"params": ["w", "k", "t"], "use_muon": True, "lr": 0.03, "momentum": 0.9, "weight_decay": 0.1},
          {"params": ["b", "s"], "use_muon": False, "lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-8,
           "weight_decay": 0.05}]),
        ("aux_adam_defaults_f32", torch.float32,
         [{"params": ["w", "k", "t"], "use_muon": True}, {"params": ["b", "s"], "use_muon": False}]),
    ]
    for variant, dtype, groups in cases:
        grads, traj = run_muon(m32, "SingleDeviceMuonWithAuxAdam", names, shapes, groups, {}, dtype, seed, 15, withheld)
        _, traj64 = run_muon(m64, "SingleDeviceMuonWithAuxAdam", names, shapes, groups, {}, dtype, seed, 15, withheld)
        diff = max_abs_diff(traj, traj64)
        atol = max(1e-6, float("%.0e" % (4 * diff)))
        inits = init_params(shapes, seed)
        notes = (
            "KellerJordan/Muon muon.py, class SingleDeviceMuonWithAuxAdam, constructed with the param_groups listed "
            "(use_muon flags; group options as listed, the rest the class's defaults: Muon lr 0.02, momentum 0.95, "
            "weight_decay 0; Adam lr 3e-4, betas (0.9, 0.95), eps 1e-10, weight_decay 0). PATCHED (one line) in "
            "zeropower_via_newtonschulz5: `X = G.bfloat16()` -> `X = G.float()` (the Newton-Schulz iteration in "
            "float32). Muon group: buf.lerp_(g, 1-momentum); u = g.lerp_(buf, momentum) (nesterov); a 4-D kernel "
            "is viewed as [O, I*kh*kw]; the 3-D tensor t [2,3,4] is NOT reshaped: NS runs batched over its first "
            "dim (norm over the last two dims, keepdim); O *= sqrt(max(1, size(-2)/size(-1))) of the original "
            "tensor; p *= 1-lr*wd; p -= lr*O. Adam group (adam_update): buf1.lerp_(g, 1-b1); buf2.lerp_(g^2, 1-b2); "
            "u = (buf1/(1-b1^t)) / (sqrt(buf2/(1-b2^t)) + eps); p *= 1-lr*wd; p -= lr*u. A withheld gradient "
            "(null) is replaced by zeros by the reference (p.grad = zeros_like(p)), so that parameter still steps. "
            "Tolerance: the same run with the iteration in float64 (patch `G.double()`) differs by at most "
            f"{diff:.3g} absolute; atol = 4x that (at least 1e-6), rtol 1e-5. " + DATA_NOTE)
        write(args.out, {
            "format": "descent-golden/1", "optimizer": "muon", "variant": variant,
            "reference": ref_block("muon", "SingleDeviceMuonWithAuxAdam", notes),
            "options": {}, "dtype": str(dtype).replace("torch.", ""), "seed": seed,
            "param_groups": groups,
            "params": param_specs(names, shapes, inits),
            "steps": [{"grads": g, "expected": e} for g, e in zip(grads, traj)],
            "tolerance": {"rtol": 1e-5, "atol": atol},
        })
    # bfloat16 iteration (unpatched), float32 parameters, weight decay.
    names2, shapes2 = ["w", "k"], [(8, 5), (4, 2, 3, 3)]
    opts = {"lr": 0.02, "weight_decay": 0.05, "momentum": 0.9}
    grads, traj = run_muon(mod, "SingleDeviceMuon", names2, shapes2, None, opts, torch.float32, 612, 15, set())
    _, traj32 = run_muon(m32, "SingleDeviceMuon", names2, shapes2, None, opts, torch.float32, 612, 15, set())
    diff = max_abs_diff(traj, traj32)
    atol = float("%.0e" % (2 * diff)) if diff > 0 else 1e-6
    notes = ("KellerJordan/Muon muon.py, class SingleDeviceMuon, run unchanged: the Newton-Schulz iteration in "
             "bfloat16 (X = G.bfloat16()), on float32 parameters, momentum buffer float32. The torch 1.13 CPU build "
             "(BLAS generic) rounds bf16 matmuls after every product and partial sum, so bf16 results are "
             f"backend-specific. Tolerance study: the same run with the iteration in float32 differs by {diff:.3g} "
             "absolute; atol = 2x that, rtol 0.03 (a coarse check, as muon__default). " + DATA_NOTE)
    write(args.out, {
        "format": "descent-golden/1", "optimizer": "muon", "variant": "bf16_ns_f32_params",
        "reference": ref_block("muon", "SingleDeviceMuon", notes), "options": opts, "dtype": "float32",
        "seed": 612, "params": param_specs(names2, shapes2, init_params(shapes2, 612)),
        "steps": [{"grads": g, "expected": e} for g, e in zip(grads, traj)],
        "tolerance": {"rtol": 0.03, "atol": atol},
    })


# ---- M-FAC ------------------------------------------------------------------------------------


def mfac_module(args, tmp):
    mod, _ = load_module(args.mirrors, "mfac", tmp)

    def lu_nopivot(A, pivot=True):
        n = A.shape[0]
        L = torch.zeros_like(A)
        U = torch.zeros_like(A)
        for k in range(n):
            U[k, k:] = A[k, k:] - L[k, :k] @ U[:k, k:]
            L[k, k] = 1
            L[k + 1:, k] = (A[k + 1:, k] - L[k + 1:, :k] @ U[:k, k]) / U[k, k]
        return (torch.triu(U) + torch.tril(L, -1),)

    mod.torch = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})
    mod.torch.lu = lu_nopivot
    mod.nn = types.SimpleNamespace(parallel=types.SimpleNamespace(
        parallel_apply=lambda fs, inputs: [f(x) for f, x in zip(fs, inputs)]))
    mod.USE_CUDA = False
    return mod


def run_mfac(mod, names, shapes, inits, groups, options, dtype, seed, steps):
    params = [p.to(dtype).clone().requires_grad_(True) for p in inits]
    by_name = dict(zip(names, params))
    if groups is None:
        pg = params
    else:
        pg = [dict(params=[by_name[n] for n in g["params"]], **{k: v for k, v in g.items() if k != "params"})
              for g in groups]
    # float64: the default dtype too, for the zeros the class creates without a dtype (v, the sparse expansion)
    torch.set_default_dtype(torch.float64 if dtype == torch.float64 else torch.float32)
    opt = mod.MFAC(pg, moddev=torch.device("cpu"), optdev=torch.device("cpu"), gpus=[], **options)
    if dtype == torch.float64:
        d = opt.hinv.d  # the masked coordinates with sparse=True
        opt.hinv = mod.HInvFastUpMulti(torch.zeros((options["ngrads"], d), dtype=torch.float64),
                                       dev=torch.device("cpu"), gpus=[torch.device("cpu")], damp=options["damp"])
        if options.get("momentum", 0) > 0:
            opt.v = torch.zeros(d, dtype=torch.float64)
    traj, grads_out = [], []
    for t in range(1, steps + 1):
        gs = grads_at(shapes, seed, t)
        for p, g in zip(params, gs):
            p.grad = g.to(dtype).clone()
        grads_out.append([flat(p.grad) for p in params])
        opt.step()
        traj.append([flat(p) for p in params])
    torch.set_default_dtype(torch.float32)
    return grads_out, traj


def gen_mfac(args, tmp):
    mod = mfac_module(args, tmp)
    names = ["w", "b", "k", "s"]
    shapes = [(4, 3), (4,), (2, 3, 2, 2), ()]
    SHIM = ("IST-DASLab/M-FAC optim.py class MFAC run on CPU with two shims: (1) torch.lu(A, pivot=False) replaced "
            "by a Python Doolittle LU returning the packed factor triu(U)+tril(L,-1); (2) "
            "torch.nn.parallel.parallel_apply replaced by a serial map. hinv_cuda not installed (USE_CUDA=False). "
            "Constructed as MFAC(param_groups, moddev=cpu, optdev=cpu, gpus=[], **options). ")
    # Sparse, two groups, wrap-around of a 5-row window, float64 (window and momentum patched to float64).
    seed = 621
    inits = init_params(shapes, seed)
    inits[0][1, 2] = 0.0
    inits[2][0, 1] = 0.0  # a whole kh x kw slice
    inits[1][3] = 0.0
    groups = [{"params": ["w", "b"]}, {"params": ["k", "s"], "lr": 0.004}]
    options = {"lr": 0.01, "momentum": 0.5, "weight_decay": 1e-3, "ngrads": 5, "damp": 1e-3, "sparse": True}
    grads, traj = run_mfac(mod, names, shapes, inits, groups, options, torch.float64, seed, 22)
    notes = (SHIM + "HARNESS PATCH (float64): right after construction opt.hinv is replaced by HInvFastUpMulti over a "
             "float64 zero window and opt.v by float64 zeros (the class hard-codes float32), and the run has torch.set_default_dtype(torch.float64) (the sparse path expands the update into torch.zeros(nweights) of the default dtype). sparse=True: the mask "
             "w != 0 is taken at construction over all params flattened (w[1,2], b[3] and k[0,1] (4 elements) are "
             "set exactly 0 in init after drawing), the window spans the 35 unmasked coordinates, gradients are restricted to it and the update is "
             "expanded with zeros (masked weights never move). Two param groups: only lr is per group (momentum, "
             "weight_decay, ngrads, damp, sparse are the optimizer's). The 5-row window wraps 4 times in 22 steps. "
             + DATA_NOTE)
    write(args.out, {
        "format": "descent-golden/1", "optimizer": "mfac", "variant": "sparse_groups_wrap",
        "reference": ref_block("mfac", "MFAC", notes), "options": options, "dtype": "float64", "seed": seed,
        "param_groups": groups, "params": param_specs(names, shapes, inits),
        "steps": [{"grads": g, "expected": e} for g, e in zip(grads, traj)],
        "tolerance": {"rtol": 1e-9, "atol": 1e-10},
    })
    # float32 with momentum and a larger window.
    seed = 622
    inits = init_params(shapes, seed)
    options = {"lr": 0.002, "momentum": 0.9, "ngrads": 8, "damp": 1e-4}
    grads, traj = run_mfac(mod, names, shapes, inits, None, options, torch.float32, seed, 20)
    _, traj64 = run_mfac(mod, names, shapes, inits, None, options, torch.float64, seed, 20)
    diff = max_abs_diff(traj, traj64)
    atol = float("%.0e" % (4 * diff))
    notes = (SHIM + "float32, unpatched (the window and momentum are float32, as the class hard-codes them). With "
             "damp=1e-4, lambd*g - G^T(...) cancels digits in float32. Tolerance study: the same run with the "
             f"window in float64 differs by at most {diff:.3g} absolute; atol = 4x that, rtol 1e-4. " + DATA_NOTE)
    write(args.out, {
        "format": "descent-golden/1", "optimizer": "mfac", "variant": "f32_momentum_m8",
        "reference": ref_block("mfac", "MFAC", notes), "options": options, "dtype": "float32", "seed": seed,
        "params": param_specs(names, shapes, inits),
        "steps": [{"grads": g, "expected": e} for g, e in zip(grads, traj)],
        "tolerance": {"rtol": 1e-4, "atol": atol},
    })


# ---- Sophia -----------------------------------------------------------------------------------


def run_sophia(cls, names, shapes, groups, options, step_kwargs, dtype, seed, steps, k, withheld, squared):
    params = [p.to(dtype).clone().requires_grad_(True) for p in init_params(shapes, seed)]
    by_name = dict(zip(names, params))
    if groups is None:
        opt = cls(params, **options)
    else:
        pg = [dict(params=[by_name[n] for n in g["params"]], **{kk: (tuple(v) if kk == "betas" else v)
                                                                  for kk, v in g.items() if kk != "params"})
              for g in groups]
        opt = cls(pg, **options)
    out = []
    for t in range(1, steps + 1):
        gs = grads_at(shapes, seed, t)
        row = []
        for i, (p, g) in enumerate(zip(params, gs)):
            if (t, names[i]) in withheld:
                p.grad = None
                row.append(None)
            else:
                p.grad = g.to(dtype).clone()
                row.append(flat(p.grad))
        opt.step(**step_kwargs)
        step = {"grads": row}
        if t % k == 0:
            gh = torch.Generator().manual_seed(seed * 1000 + 500 + t)
            est = []
            for p in params:
                ghat = torch.randn(p.shape, generator=gh, dtype=torch.float64) * 0.05
                e = (ghat * ghat) if squared else ghat
                est.append(e.to(dtype))
            for p, e in zip(params, est):
                p.grad = e.sqrt() if squared else e.clone()
            opt.update_hessian()
            step["hessian"] = [flat(e) for e in est]
        step["expected"] = [flat(p) for p in params]
        out.append(step)
    return out


def gen_sophia(args, tmp):
    g_mod, _ = load_module(args.mirrors, "sophia_g", tmp)
    names = ["w", "b", "k", "s"]
    shapes = [(4, 3), (4,), (2, 3, 2, 2), ()]
    seed = 631
    options = {"lr": 0.002, "betas": (0.9, 0.95), "rho": 0.05, "weight_decay": 0.2, "maximize": True}
    steps = run_sophia(g_mod.SophiaG, names, shapes, None, options, {"bs": 480}, torch.float32, seed, 18, 4,
                       {(5, "b"), (10, "s")}, True)
    notes = ("Liuhong99/Sophia sophia.py (HEAD) class SophiaG, run unchanged, float32, maximize=True (g = -g), "
             "step(bs=480) (the option 'bs'). Hessian refresh after 1-based steps 4, 8, 12, 16 (the steps carrying "
             "'hessian'): e = ghat^2, ghat ~ 0.05*randn from torch.Generator().manual_seed(seed*1000+500+t) "
             "(float64, params in order, cast to float32); the harness sets p.grad = sqrt(e) for every param and "
             "calls update_hessian() (h = b2*h + (1-b2)*p.grad*p.grad), after that step's optimizer.step(). A "
             "withheld gradient (null): the reference skips that param in step(). " + DATA_NOTE)
    out = {"format": "descent-golden/1", "optimizer": "sophia_g", "variant": "f32_maximize_bs",
           "reference": ref_block("sophia_g", "SophiaG", notes),
           "options": dict(options, betas=list(options["betas"]), bs=480), "dtype": "float32", "seed": seed,
           "hessian_applied": "after_step", "params": param_specs(names, shapes, init_params(shapes, seed)),
           "steps": steps, "tolerance": {"rtol": 1e-5, "atol": 1e-7}}
    write(args.out, out)
    groups = [{"params": ["w", "k"], "lr": 0.01, "rho": 0.02}, {"params": ["b", "s"], "betas": [0.8, 0.9],
                                                                   "weight_decay": 0.0}]
    options = {"lr": 0.005, "rho": 0.04, "weight_decay": 0.1}
    steps = run_sophia(g_mod.SophiaG, names, shapes, groups, options, {"bs": 1000}, torch.float64, 632, 16, 3,
                       set(), True)
    notes = ("Liuhong99/Sophia sophia.py (HEAD) class SophiaG, run unchanged, float64, two param groups (group "
             "options override the constructor's), step(bs=1000). Hessian refresh after steps 3, 6, 9, 12, 15 as in "
             "sophia_g__default (p.grad = sqrt(e); update_hessian()). " + DATA_NOTE)
    write(args.out, {"format": "descent-golden/1", "optimizer": "sophia_g", "variant": "param_groups",
                     "reference": ref_block("sophia_g", "SophiaG", notes), "options": dict(options, bs=1000),
                     "dtype": "float64", "seed": 632, "hessian_applied": "after_step", "param_groups": groups,
                     "params": param_specs(names, shapes, init_params(shapes, 632)), "steps": steps,
                     "tolerance": {"rtol": 1e-9, "atol": 1e-12}})
    h_mod, _ = load_module(args.mirrors, "sophia_h", tmp)
    options = {"lr": 0.003, "betas": (0.85, 0.9), "gamma": 5.0, "weight_decay": 0.05}
    steps = run_sophia(h_mod.SophiaH, names, shapes, None, options, {}, torch.float32, 633, 16, 4, {(6, "w")}, False)
    notes = ("Liuhong99/Sophia sophia.py at 01af183, class SophiaH, run unchanged, float32 (the step count is a "
             "float32 0-d tensor read with .item()). Refresh after steps 4, 8, 12, 16: e ~ 0.05*randn (both signs, "
             "unsquared) from torch.Generator().manual_seed(seed*1000+500+t); p.grad = e; update_hessian() "
             "(h = b2*h + (1-b2)*p.grad). A withheld gradient (null) skips that param in step(). " + DATA_NOTE)
    write(args.out, {"format": "descent-golden/1", "optimizer": "sophia_h", "variant": "f32",
                     "reference": ref_block("sophia_h", "SophiaH", notes),
                     "options": dict(options, betas=list(options["betas"])), "dtype": "float32", "seed": 633,
                     "hessian_applied": "after_step", "params": param_specs(names, shapes, init_params(shapes, 633)),
                     "steps": steps, "tolerance": {"rtol": 1e-5, "atol": 1e-7}})


# ---- AdaHessian -------------------------------------------------------------------------------


def run_adahessian_fed(cls, names, shapes, groups, options, dtype, seed, steps):
    params = [p.to(dtype).clone().requires_grad_(True) for p in init_params(shapes, seed)]
    by_name = dict(zip(names, params))
    if groups is None:
        opt = cls(params, **options)
    else:
        pg = [dict(params=[by_name[n] for n in g["params"]], **{k: v for k, v in g.items() if k != "params"})
              for g in groups]
        opt = cls(pg, **options)
    out = []
    for t in range(1, steps + 1):
        gs = [g.to(dtype) for g in grads_at(shapes, seed, t)]
        gh = torch.Generator().manual_seed(seed * 1000 + 500 + t)
        es = [(torch.randn(s, generator=gh, dtype=torch.float64) * 0.5).to(dtype) for s in shapes]
        opt.zero_grad(set_to_none=True)
        now = [p.detach().clone() for p in params]
        loss = sum((g * p).sum() + 0.5 * (e * (p - q) ** 2).sum() for p, g, e, q in zip(params, gs, es, now))
        loss.backward(create_graph=True)
        opt.step()
        out.append({"grads": [flat(g) for g in gs], "hessian": [flat(e) for e in es],
                    "expected": [flat(p) for p in params]})
    return out


def gen_adahessian(args, tmp):
    mod, _ = load_module(args.mirrors, "adahessian", tmp)
    names = ["w", "b", "k", "s"]
    shapes = [(4, 3), (4,), (2, 3, 2, 2), ()]
    FED = ("The per-step 'hessian' is fed through the unchanged reference as in adahessian__default: each step "
           "backpropagates (create_graph=True) the surrogate L(p) = sum(g*p) + 0.5*sum(e*(p - p_now)^2), whose "
           "gradient at p_now is g and whose Hessian is diag(e), so |Hv| = |e| for the reference's own Rademacher v. "
           "Conv kernel k [2,3,2,2]: D = mean(|e|) over dims [2,3]; 0-d s and ndim <= 2: D = |e|. Estimates "
           "e = 0.5*randn(shape) from torch.Generator().manual_seed(seed*1000+500+t). ")
    options = {"lr": 0.05, "betas": (0.85, 0.99), "eps": 1e-3, "weight_decay": 1e-2, "hessian_power": 0.5}
    steps = run_adahessian_fed(mod.Adahessian, names, shapes, None, options, torch.float64, 641, 18)
    notes = ("amirgholami/adahessian image_classification/optim_adahessian.py class Adahessian, run unchanged, "
             "float64, hessian_power 0.5 (pow(Tensor, 0.5) is ATen's sqrt), weight_decay 1e-2 (added as wd*p after "
             "preconditioning). " + FED + DATA_NOTE)
    write(args.out, {"format": "descent-golden/1", "optimizer": "adahessian", "variant": "power_half_wd_scalar",
                     "reference": ref_block("adahessian", "Adahessian", notes),
                     "options": dict(options, betas=list(options["betas"])), "dtype": "float64", "seed": 641,
                     "hessian_applied": "in_step", "params": param_specs(names, shapes, init_params(shapes, 641)),
                     "steps": steps, "tolerance": {"rtol": 1e-9, "atol": 1e-12}})
    groups = [{"params": ["w", "s"], "hessian_power": 0.7}, {"params": ["b", "k"], "lr": 0.02}]
    options = {"lr": 0.1}
    steps = run_adahessian_fed(mod.Adahessian, names, shapes, groups, options, torch.float32, 642, 15)
    notes = ("amirgholami/adahessian image_classification/optim_adahessian.py class Adahessian, run unchanged, "
             "float32, two param groups (hessian_power 0.7: a general std::pow; lr per group). The per-step "
             "'hessian' lists every param in the case's param order. " + FED + DATA_NOTE)
    write(args.out, {"format": "descent-golden/1", "optimizer": "adahessian", "variant": "f32_groups_power",
                     "reference": ref_block("adahessian", "Adahessian", notes), "options": options,
                     "dtype": "float32", "seed": 642, "hessian_applied": "in_step", "param_groups": groups,
                     "params": param_specs(names, shapes, init_params(shapes, 642)), "steps": steps,
                     "tolerance": {"rtol": 1e-5, "atol": 1e-7}})
    # Objective-driven, with a conv layer: spatial averaging on the Hutchinson path.
    seed = 643
    names = ["c.w", "c.b", "l.w", "l.b"]
    shapes = [(3, 2, 3, 3), (3,), (4, 3 * 4 * 4), (4,)]
    params = [p.clone().requires_grad_(True) for p in init_params(shapes, seed)]
    inits = [p.detach().clone() for p in params]
    opt = mod.Adahessian(params, lr=0.02, weight_decay=1e-3)
    F = torch.nn.functional
    steps = []
    orig = torch.randint_like
    for t in range(1, 13):
        g = torch.Generator().manual_seed(seed * 1000 + t)
        x = torch.randn(5, 2, 4, 4, generator=g, dtype=torch.float64)
        y = torch.randint(0, 4, (5,), generator=g)
        gp = torch.Generator().manual_seed(seed * 1000 + 500 + t)
        probes = [2 * torch.randint(0, 2, s, generator=gp, dtype=torch.float64) - 1 for s in shapes]
        it = iter(probes)
        torch.randint_like = lambda p, high=2: (next(it) + 1) / 2  # the reference's draw, replaced by the probes
        opt.zero_grad(set_to_none=True)
        out = F.linear(F.relu(F.conv2d(x, params[0], params[1], stride=1, padding=1)).flatten(1), params[2], params[3])
        loss = F.cross_entropy(out, y)
        loss.backward(create_graph=True)
        opt.step()
        torch.randint_like = orig
        steps.append({"batch": {"x": x.tolist(), "y": y.tolist()}, "probes": [flat(p) for p in probes],
                      "loss": float(loss), "expected": [flat(p) for p in params]})
    notes = ("amirgholami/adahessian image_classification/optim_adahessian.py class Adahessian (lr 0.02, "
             "weight_decay 1e-3). ONE PATCH: get_trace() draws v = 2*torch.randint_like(p, high=2) - 1 from the "
             "global RNG; torch.randint_like is replaced, during each step, by a function returning (probe+1)/2 for "
             "the step's probes in param order, so v = the step's 'probes'. Driven by the objective: per step t, "
             "zero_grad(set_to_none=True); loss = cross_entropy(model(x_t), y_t); loss.backward(create_graph=True); "
             "step(). Model: conv2d(stride 1, padding 1) -> relu -> flatten -> linear. hv = H v by double backward; "
             "D = |hv|, averaged over dims [2,3] for the conv kernel c.w (3x3 slices), elementwise otherwise. Data: "
             "init = 0.5*randn(shape) from torch.Generator().manual_seed(seed) (float64, params in order); batch of "
             "step t: x = randn(5, 2, 4, 4) then y = randint(0, 4, (5,)) from one "
             "torch.Generator().manual_seed(seed*1000+t); probes of step t = 2*randint(0, 2, shape) - 1 (float64) "
             "from torch.Generator().manual_seed(seed*1000+500+t), params in order.")
    write(args.out, {"format": "descent-golden/1", "optimizer": "adahessian", "variant": "objective_conv",
                     "reference": ref_block("adahessian", "Adahessian", notes),
                     "options": {"lr": 0.02, "weight_decay": 1e-3}, "dtype": "float64", "seed": seed,
                     "hessian_applied": "in_step",
                     "objective": {"model": [{"type": "conv2d", "weight": "c.w", "bias": "c.b", "stride": 1,
                                              "padding": 1},
                                             {"type": "relu"}, {"type": "flatten"},
                                             {"type": "linear", "weight": "l.w", "bias": "l.b"}],
                                   "loss": "cross_entropy"},
                     "params": param_specs(names, shapes, inits), "steps": steps,
                     "tolerance": {"rtol": 1e-9, "atol": 1e-12}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirrors", default=os.environ.get("MIRRORS", "/work/.mirror"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "data", "extra"))
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    tmp = "/tmp/gen_curvature_golden"
    os.makedirs(tmp, exist_ok=True)
    for name, fn in [("muon", gen_muon), ("mfac", gen_mfac), ("sophia", gen_sophia), ("adahessian", gen_adahessian)]:
        if not args.only or args.only == name:
            fn(args, tmp)


if __name__ == "__main__":
    main()
