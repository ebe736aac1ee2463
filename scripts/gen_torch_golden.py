#!/usr/bin/python3
"""Generate extra golden trajectories for PyTorch's own optimizers.

The shared golden cases (tests/golden/data/<optimizer>__<variant>.json, format in
/work/shared/golden/FORMAT.md) cover each torch.optim optimizer's defaults and one
option set. This script adds cases for the options and code paths they leave out:
float32, 0-d parameters, `maximize`, the options no shared case sets, two param
groups with different options, a per-step lr schedule, and parameters that have no
gradient at some steps. Every case is produced by running torch.optim itself.

Run it with Debian's python3-torch (PyTorch 1.13) interpreter, from the repository root:

    /usr/bin/python3 scripts/gen_torch_golden.py                # writes tests/golden/data/extra/
    /usr/bin/python3 scripts/gen_torch_golden.py --out DIR      # writes DIR/<optimizer>__<variant>.json
    /usr/bin/python3 scripts/gen_torch_golden.py --check        # regenerate in memory, compare with the files on disk
    /usr/bin/python3 scripts/gen_torch_golden.py --only adam,sgd

(`python3` first on PATH may be an interpreter without torch; call /usr/bin/python3.)

Output is deterministic: data come from fixed torch.Generator seeds derived from the
case name, the optimizers run single-threaded on CPU with foreach=False (the
single-tensor loop path, the 1.13 default), and floats are written with Python's
round-trip repr, so a rerun writes byte-identical files.

Data, per case (seed = 20000000 + crc32("<optimizer>__<variant>") % 10000000):
  init of each param, in order: 0.5 * randn(shape, float64) from Generator(seed);
  grads at step t (1-based): randn(shape, float64) * 0.05 * (1 + 0.5 sin t) for each param
  in order, from Generator(seed * 1000 + t), drawn even for a param whose grad is withheld;
  the grad of "b" is exactly zero at t = 7.
For float32 cases init and grads are rounded to float32 and the params, grads and state
are float32; every value is written as the float32 value converted to a Python float.
Each float32 case is also replayed in float64 from the same (float32-exact) data, and the
script checks that this float64 trajectory stays within a quarter of the float32
tolerance of the float32 one, so an implementation with any reasonable internal precision
(float32 storage, float or double opmath) passes it.
"""

import argparse
import json
import math
import os
import sys
import zlib

import torch

FORMAT = "descent-golden/1"
COMMIT = "v1.13 (Debian python3-torch 1.13.0a0)"
STEPS = 20
TOL = {"float64": {"rtol": 1e-9, "atol": 1e-12}, "float32": {"rtol": 1e-5, "atol": 1e-6}}
F32_MARGIN = 0.25  # float64 shadow run must stay within this fraction of the float32 tolerance

# canonical name -> (class, path in pytorch/pytorch, has maximize in 1.13)
OPTIMIZERS = {
    "sgd": (torch.optim.SGD, "torch/optim/sgd.py", True),
    "adam": (torch.optim.Adam, "torch/optim/adam.py", True),
    "adamw": (torch.optim.AdamW, "torch/optim/adamw.py", True),
    "adagrad": (torch.optim.Adagrad, "torch/optim/adagrad.py", True),
    "rmsprop": (torch.optim.RMSprop, "torch/optim/rmsprop.py", True),
    "adadelta": (torch.optim.Adadelta, "torch/optim/adadelta.py", True),
    "adamax": (torch.optim.Adamax, "torch/optim/adamax.py", True),
    "nadam": (torch.optim.NAdam, "torch/optim/nadam.py", False),
    "radam": (torch.optim.RAdam, "torch/optim/radam.py", False),
    "rprop": (torch.optim.Rprop, "torch/optim/rprop.py", True),
    "asgd": (torch.optim.ASGD, "torch/optim/asgd.py", True),
}

# Notes on reference internals worth knowing when matching a case (from the 1.13 sources).
OPT_NOTES = {
    "sgd": "Momentum buffer = clone of the (weight-decayed, sign-flipped if maximize) gradient at a "
           "param's first step (no dampening then); later buf = momentum*buf + (1-dampening)*g; "
           "nesterov: g + momentum*buf; p -= lr*that.",
    "adam": "step_size = lr/(1-beta1^t); denom = sqrt(v)/sqrt(1-beta2^t) + eps (amsgrad: max_exp_avg_sq "
            "= max(max_exp_avg_sq, v) used for v); maximize negates the gradient before weight decay "
            "is added.",
    "adamw": "p *= 1 - lr*weight_decay first (decoupled, uses the lr in force), then the Adam update; "
             "maximize negates the gradient.",
    "adagrad": "State (sum = initial_accumulator_value, step = 0) is created for every param in the "
               "constructor, from its group's initial_accumulator_value; step counts only the steps at "
               "which the param had a gradient; clr = lr/(1+(step-1)*lr_decay); std = sqrt(sum)+eps.",
    "rmsprop": "square_avg = alpha*square_avg + (1-alpha)*g^2; centered: avg = sqrt(square_avg - "
               "grad_avg^2) + eps, else sqrt(square_avg) + eps; momentum>0: buf = momentum*buf + g/avg, "
               "p -= lr*buf, else p -= lr*g/avg. momentum_buffer/grad_avg exist only when the group has "
               "momentum>0 / centered at the param's first step.",
    "adadelta": "square_avg = rho*square_avg + (1-rho)*g^2; delta = sqrt(acc_delta+eps)/sqrt(square_avg+eps)*g; "
                "acc_delta = rho*acc_delta + (1-rho)*delta^2; p -= lr*delta.",
    "adamax": "exp_inf = max(beta2*exp_inf, |g|+eps) (via cat + amax); p -= lr/(1-beta1^t) * exp_avg/exp_inf.",
    "nadam": "NAdam in 1.13 has no maximize and no decoupled weight decay. state[\"mu_product\"] is a "
             "float32 0-dim tensor (torch.tensor(1.)) even for float64 params: mu_product *= mu is rounded "
             "to float32 and 1 - mu_product.item() / 1 - (mu_product*mu*mu_next).item() use the float32 "
             "values (mu_product*mu*mu_next is itself a float32 tensor product).",
    "radam": "RAdam in 1.13 has no maximize and no decoupled weight decay. rho_inf = 2/(1-beta2)-1, "
             "rho_t = rho_inf - 2t*beta2^t/(1-beta2^t); rectified update only when rho_t > 5, else "
             "p -= lr * exp_avg/(1-beta1^t).",
    "rprop": "Rprop in 1.13 has no weight_decay. step_size is filled with the group's lr at the param's "
             "first step with a gradient (lr has no other effect); sign(g*prev) picks etaplus/etaminus/1, "
             "step_size = clamp(step_size*eta, min, max); where the sign was negative g is zeroed; "
             "p -= sign(g)*step_size; prev = g (zeroed entries included).",
    "asgd": "Only the iterate (the params) is recorded; the averaged iterate state[\"ax\"] (and so the "
            "t0/mu averaging) is not observable in this format. state[\"eta\"] and state[\"mu\"] are float32 "
            "0-dim tensors: eta starts as torch.tensor(lr in force at the param's first step); each step "
            "does p *= 1 - lambd*eta.item(); p -= eta.item()*g; then eta = float32(lr/(1+lambd*lr*t)^alpha) "
            "with the lr in force at that step, for the next step; mu = float32(1/max(1, t-t0)).",
}

SHAPES_FULL = [("w", [4, 3]), ("b", [4]), ("k", [2, 3, 2, 2])]
SHAPES_SCALAR = SHAPES_FULL + [("s", [])]
SHAPES_SMALL = [("w", [4, 3]), ("b", [4]), ("s", [])]


def schedule(base, t):
    """lr in force at step t (1-based): 3 warmup steps, then cosine decay to base/10."""
    if t <= 3:
        return base * t / 3.0
    frac = (t - 3) / (STEPS - 3)
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac)))


# ---------------------------------------------------------------------------------------------
# Case table. Each case: optimizer, variant, options (constructor kwargs, foreach excluded),
# dtype, shapes, and optionally groups (list of (param names, group options)), lr schedule,
# missing grads {param: steps}, covers (what it is for), extra notes, a post-run check.


def case(opt, variant, options, covers, dtype="float64", shapes=SHAPES_FULL, groups=None,
         sched=False, missing=None, notes="", check=None):
    return dict(opt=opt, variant=variant, options=options, covers=covers, dtype=dtype,
                shapes=shapes, groups=groups, sched=sched, missing=missing or {}, notes=notes,
                check=check)


MISSING = {"b": [3, 4, 11], "s": [1, 2, 20]}
MISSING_COVERS = ("params with no gradient at some steps (grads entry null, p.grad = None): b at steps "
                  "3, 4, 11; s at steps 1, 2 (state created late) and 20")


def common(opt, lr, f32_opts, scalar_opts, groups_base, group_a, group_b, sched_opts, missing_opts):
    """The cases every optimizer gets: float32, 0-d param, two param groups, lr schedule, missing grads."""
    return [
        case(opt, "f32", dict(lr=lr, **f32_opts), "float32 params/grads/state", dtype="float32"),
        case(opt, "scalar_param", dict(lr=lr, **scalar_opts), "a 0-d parameter (shape []) among the others",
             shapes=SHAPES_SCALAR),
        case(opt, "param_groups", dict(lr=lr, **groups_base),
             "two param groups with different options: " + ", ".join(
                 sorted(set(group_a) | set(group_b))),
             shapes=SHAPES_SMALL, groups=[(["w"], group_a), (["b", "s"], group_b)]),
        case(opt, "lr_schedule", dict(lr=lr, **sched_opts),
             "per-step lr (3 warmup steps, then cosine decay to lr/10); every step carries the lr in force",
             shapes=SHAPES_SMALL, sched=True),
        case(opt, "missing_grads", dict(lr=lr, **missing_opts), MISSING_COVERS, shapes=SHAPES_SMALL,
             missing=MISSING),
    ]


def rprop_check_clamps(opt, params, history):
    lo, hi = opt.param_groups[0]["step_sizes"]
    hit_lo = any(bool((s == lo).any()) for s in history)
    hit_hi = any(bool((s == hi).any()) for s in history)
    assert hit_lo and hit_hi, "rprop clamp case: step_size clamps not both hit (%s, %s)" % (hit_lo, hit_hi)


def radam_check_margin(beta2):
    def check(opt, params, history):
        for t in range(1, STEPS + 1):
            bc2 = 1 - beta2 ** t
            rho_t = (2 / (1 - beta2) - 1) - 2 * t * beta2 ** t / bc2
            assert abs(rho_t - 5) > 1e-6, "radam: rho_%d = %r is too close to the threshold 5" % (t, rho_t)
    return check


def asgd_check_averaging(opt, params, history):
    mus = [float(st["mu"]) for st in opt.state.values()]
    assert all(m != 1.0 for m in mus), "asgd: averaging (mu != 1) never kicked in"


def all_cases():
    C = []
    # --- sgd: shared cover lr only, and momentum+nesterov+weight_decay
    C += [
        case("sgd", "momentum_dampening", dict(lr=0.1, momentum=0.9, dampening=0.5),
             "momentum with dampening (no nesterov, no weight decay)"),
        case("sgd", "momentum_wd", dict(lr=0.05, momentum=0.9, weight_decay=0.01),
             "plain heavy-ball momentum without nesterov, with weight decay"),
        case("sgd", "maximize", dict(lr=0.1, weight_decay=0.01, maximize=True),
             "maximize on the momentum-free path, with weight decay"),
        case("sgd", "maximize_nesterov", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01,
                                              maximize=True),
             "maximize with nesterov momentum and weight decay"),
    ]
    C += common("sgd", 0.05,
                f32_opts=dict(momentum=0.9, dampening=0.1, weight_decay=0.01),
                scalar_opts=dict(momentum=0.9, nesterov=True),
                groups_base=dict(momentum=0.9),
                group_a=dict(lr=0.1, weight_decay=0.0),
                group_b=dict(lr=0.02, weight_decay=0.1, momentum=0.0),
                sched_opts=dict(momentum=0.9, weight_decay=0.01),
                missing_opts=dict(momentum=0.9, dampening=0.2, weight_decay=0.01))
    # --- adam: shared cover default, amsgrad+wd
    C += [
        case("adam", "amsgrad_maximize", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.01),
             "amsgrad with maximize (and L2 weight decay)"),
        case("adam", "betas_eps", dict(lr=0.01, betas=[0.8, 0.99], eps=1e-4),
             "non-default betas and a large eps"),
    ]
    C += common("adam", 0.01,
                f32_opts=dict(weight_decay=0.01),
                scalar_opts=dict(amsgrad=True),
                groups_base=dict(),
                group_a=dict(lr=0.02, weight_decay=0.0),
                group_b=dict(lr=0.005, weight_decay=0.1, amsgrad=True, betas=[0.8, 0.99]),
                sched_opts=dict(weight_decay=0.01),
                missing_opts=dict(amsgrad=True))
    # --- adamw: shared cover default (wd 1e-2), amsgrad+wd
    C += [
        case("adamw", "amsgrad_maximize", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.05),
             "amsgrad with maximize (decoupled weight decay)"),
        case("adamw", "betas_eps_nowd", dict(lr=0.01, betas=[0.8, 0.99], eps=1e-4, weight_decay=0.0),
             "non-default betas, a large eps, weight_decay 0 (no decay path)"),
    ]
    C += common("adamw", 0.01,
                f32_opts=dict(weight_decay=0.1),
                scalar_opts=dict(amsgrad=True),
                groups_base=dict(),
                group_a=dict(lr=0.02, weight_decay=0.0),
                group_b=dict(lr=0.005, weight_decay=0.5, amsgrad=True, betas=[0.8, 0.99]),
                sched_opts=dict(weight_decay=0.1),
                missing_opts=dict(weight_decay=0.1, amsgrad=True))
    # --- adagrad: shared cover default, lr_decay+initial_accumulator_value+wd
    C += [
        case("adagrad", "eps", dict(lr=0.05, eps=1e-3), "a large eps (eps is added to sqrt(sum))"),
        case("adagrad", "maximize", dict(lr=0.05, maximize=True, lr_decay=0.05, weight_decay=0.01),
             "maximize with lr_decay and weight decay"),
    ]
    C += common("adagrad", 0.05,
                f32_opts=dict(lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01),
                scalar_opts=dict(lr_decay=0.01),
                groups_base=dict(),
                group_a=dict(lr=0.1, weight_decay=0.0),
                group_b=dict(lr=0.02, weight_decay=0.1, initial_accumulator_value=0.5, lr_decay=0.1),
                sched_opts=dict(lr_decay=0.02),
                missing_opts=dict(lr_decay=0.05, initial_accumulator_value=0.01))
    # --- rmsprop: shared cover default, centered+momentum+wd
    C += [
        case("rmsprop", "centered", dict(lr=0.002, centered=True, alpha=0.9),
             "centered without momentum, non-default alpha"),
        case("rmsprop", "momentum", dict(lr=0.002, momentum=0.9, eps=1e-4),
             "momentum without centered, a large eps"),
        case("rmsprop", "maximize", dict(lr=0.002, maximize=True, centered=True, momentum=0.5,
                                         weight_decay=0.01),
             "maximize with centered, momentum and weight decay"),
    ]
    C += common("rmsprop", 0.005,
                f32_opts=dict(centered=True, momentum=0.9, weight_decay=0.01),
                scalar_opts=dict(momentum=0.9),
                groups_base=dict(),
                group_a=dict(lr=0.01, weight_decay=0.0),
                group_b=dict(lr=0.002, weight_decay=0.1, centered=True, momentum=0.9, alpha=0.95),
                sched_opts=dict(momentum=0.9),
                missing_opts=dict(centered=True, momentum=0.9))
    # --- adadelta: shared cover default, rho+wd
    C += [
        case("adadelta", "eps", dict(lr=1.0, eps=1e-4), "a large eps"),
        case("adadelta", "maximize", dict(lr=1.0, maximize=True, rho=0.8, weight_decay=0.01),
             "maximize with rho and weight decay"),
    ]
    C += common("adadelta", 1.0,
                f32_opts=dict(rho=0.95, weight_decay=0.01),
                scalar_opts=dict(),
                groups_base=dict(),
                group_a=dict(lr=1.0, weight_decay=0.0),
                group_b=dict(lr=0.5, weight_decay=0.1, rho=0.5, eps=1e-4),
                sched_opts=dict(),
                missing_opts=dict(rho=0.8))
    # --- adamax: shared cover default, betas+wd
    C += [
        case("adamax", "eps", dict(lr=0.01, eps=1e-3), "a large eps (eps is added to |g| inside the max)"),
        case("adamax", "maximize", dict(lr=0.01, maximize=True, betas=[0.9, 0.99], weight_decay=0.01),
             "maximize with betas and weight decay"),
    ]
    C += common("adamax", 0.01,
                f32_opts=dict(weight_decay=0.01),
                scalar_opts=dict(),
                groups_base=dict(),
                group_a=dict(lr=0.02, weight_decay=0.0),
                group_b=dict(lr=0.005, weight_decay=0.1, betas=[0.8, 0.99], eps=1e-3),
                sched_opts=dict(),
                missing_opts=dict(betas=[0.8, 0.99]))
    # --- nadam (no maximize in 1.13): shared cover default, momentum_decay+wd
    C += [
        case("nadam", "betas_eps", dict(lr=0.01, betas=[0.8, 0.995], eps=1e-4), "non-default betas and a large eps"),
    ]
    nadam = common("nadam", 0.01,
                   f32_opts=dict(momentum_decay=0.02, weight_decay=0.01),
                   scalar_opts=dict(),
                   groups_base=dict(),
                   group_a=dict(lr=0.02, weight_decay=0.0),
                   group_b=dict(lr=0.005, weight_decay=0.1, momentum_decay=0.1, betas=[0.8, 0.99]),
                   sched_opts=dict(),
                   missing_opts=dict(momentum_decay=0.01))
    nadam[0]["variant"] = "momentum_decay_f32"
    nadam[0]["covers"] = "float32 params/grads/state with momentum_decay and weight decay"
    C += nadam
    # --- radam (no maximize in 1.13): shared cover default, betas+wd
    C += [
        case("radam", "betas_near_one", dict(lr=0.01, betas=[0.995, 0.99999], eps=1e-6),
             "betas near 1 (rho_t ~ t, rectification from step 6; cancellation in rho_t), small eps",
             check=radam_check_margin(0.99999)),
        case("radam", "unrectified", dict(lr=0.01, betas=[0.9, 0.6]),
             "beta2 = 0.6: rho_inf = 4 < 5, so every step takes the un-rectified branch"),
    ]
    C += common("radam", 0.01,
                f32_opts=dict(weight_decay=0.01),
                scalar_opts=dict(),
                groups_base=dict(),
                group_a=dict(lr=0.02, weight_decay=0.0),
                group_b=dict(lr=0.005, weight_decay=0.1, betas=[0.9, 0.6]),
                sched_opts=dict(),
                missing_opts=dict(betas=[0.9, 0.99]))
    # --- rprop: shared cover default, etas+step_sizes
    C += [
        case("rprop", "clamp", dict(lr=0.01, etas=[0.2, 2.5], step_sizes=[0.003, 0.03]),
             "step_size clamping hit both ways (0.01*2.5^2 > max 0.03, 0.01*0.2 < min 0.003)",
             check=rprop_check_clamps),
        case("rprop", "maximize", dict(lr=0.01, maximize=True, step_sizes=[1e-4, 0.05]),
             "maximize, with step_sizes"),
    ]
    rprop = common("rprop", 0.01,
                   f32_opts=dict(etas=[0.4, 1.3], step_sizes=[1e-4, 0.05]),
                   scalar_opts=dict(),
                   groups_base=dict(),
                   group_a=dict(lr=0.02, etas=[0.5, 1.2]),
                   group_b=dict(lr=0.005, etas=[0.3, 1.5], step_sizes=[1e-3, 0.01]),
                   sched_opts=dict(),
                   missing_opts=dict(etas=[0.3, 1.5]))
    rprop[2]["covers"] = "two param groups with different lr, etas, step_sizes (Rprop has no weight_decay)"
    rprop[3]["notes"] = ("Rprop reads lr only when a param's state is created (its first step with a "
                         "gradient): w and b take lr(1); s has no gradient at steps 1-4, so its step_size "
                         "starts at lr(5).")
    rprop[3]["missing"] = {"s": [1, 2, 3, 4]}
    rprop[3]["covers"] += "; s has no gradient at steps 1-4 so its state starts at a scheduled lr"
    C += rprop
    # --- asgd: shared cover default, lambd+t0+wd
    C += [
        case("asgd", "averaging_lambd_alpha", dict(lr=0.05, lambd=0.05, alpha=0.5, t0=2.0),
             "t0 small so averaging kicks in at step 3, lambd and alpha non-default (eta decays fast)",
             check=asgd_check_averaging),
        case("asgd", "maximize", dict(lr=0.05, maximize=True, lambd=0.01, weight_decay=0.01),
             "maximize with lambd and weight decay"),
    ]
    asgd = common("asgd", 0.05,
                  f32_opts=dict(lambd=0.1, alpha=0.6, t0=3.0, weight_decay=0.01),
                  scalar_opts=dict(lambd=0.01),
                  groups_base=dict(),
                  group_a=dict(lr=0.1, weight_decay=0.0),
                  group_b=dict(lr=0.02, weight_decay=0.1, lambd=0.5, alpha=1.0, t0=1.0),
                  sched_opts=dict(lambd=0.05),
                  missing_opts=dict(lambd=0.05, t0=2.0))
    asgd[3]["notes"] = ("The schedule reaches ASGD through eta: eta for step 1 is the lr in force at "
                        "step 1 (state creation); eta for step t+1 is computed at the end of step t from "
                        "the lr in force at step t.")
    C += asgd
    return C


# ---------------------------------------------------------------------------------------------

def seed_of(name):
    return 20000000 + zlib.crc32(name.encode()) % 10000000


def make_data(c, seed):
    g = torch.Generator().manual_seed(seed)
    init = [0.5 * torch.randn(shape, dtype=torch.float64, generator=g) for _, shape in c["shapes"]]
    grads = []
    for t in range(1, STEPS + 1):
        g = torch.Generator().manual_seed(seed * 1000 + t)
        scale = 0.05 * (1 + 0.5 * math.sin(t))
        step = []
        for name, shape in c["shapes"]:
            x = torch.randn(shape, dtype=torch.float64, generator=g) * scale
            if name == "b" and t == 7:
                x = torch.zeros_like(x)
            step.append(None if t in c["missing"].get(name, []) else x)
        grads.append(step)
    return init, grads


def run(c, init, grads, dtype):
    """Runs torch.optim on the case; returns (expected per step, lrs, optimizer, params)."""
    cls = OPTIMIZERS[c["opt"]][0]
    names = [n for n, _ in c["shapes"]]
    params = [x.to(dtype).clone().requires_grad_(True) for x in init]
    opts = dict(c["options"])
    for k, v in list(opts.items()):
        if isinstance(v, list):
            opts[k] = tuple(v)
    if c["groups"]:
        pg = []
        for gnames, gopts in c["groups"]:
            d = {"params": [params[names.index(n)] for n in gnames]}
            d.update({k: tuple(v) if isinstance(v, list) else v for k, v in gopts.items()})
            pg.append(d)
        opt = cls(pg, foreach=False, **opts)
    else:
        opt = cls(params, foreach=False, **opts)
    expected, lrs, history = [], [], []
    for t in range(1, STEPS + 1):
        for p, gr in zip(params, grads[t - 1]):
            p.grad = None if gr is None else gr.to(dtype).clone()
        if c["sched"]:
            lr = schedule(c["options"]["lr"], t)
            for group in opt.param_groups:
                group["lr"] = lr
            lrs.append(lr)
        opt.step()
        expected.append([p.detach().clone() for p in params])
        if c["opt"] == "rprop":
            history += [st["step_size"].clone() for st in opt.state.values()]
    return expected, lrs, opt, params, history


def flat(x):
    return [float(v) for v in x.detach().to(torch.float64).reshape(-1).tolist()]


def state_bytes(opt, params, dtype):
    """Bytes of all state tensors except step counters, per param element; and a breakdown."""
    total = sum(p.numel() for p in params)
    per_key = {}
    for st in opt.state.values():
        for k, v in st.items():
            if k == "step" or not isinstance(v, torch.Tensor):
                continue
            per_key[k] = per_key.get(k, 0) + v.numel() * v.element_size()
    fmt = lambda b: ("%.4f" % (b / total)).rstrip("0").rstrip(".")
    breakdown = ", ".join("%s %s" % (k, fmt(b)) for k, b in per_key.items())
    value = round(sum(per_key.values()) / total, 4)
    return value, "%s (/ %d param elements)" % (breakdown, total)


def float32_margin(c, init, grads, expected32):
    """Worst |x64 - x32| / (atol + rtol*|x32|) between a float64 replay from the float32 data and the case."""
    init32 = [x.to(torch.float32).to(torch.float64) for x in init]
    grads32 = [[None if g is None else g.to(torch.float32).to(torch.float64) for g in s] for s in grads]
    exp64 = run(c, init32, grads32, torch.float64)[0]
    tol = TOL["float32"]
    worst = 0.0
    for s64, s32 in zip(exp64, expected32):
        for a, b in zip(s64, s32):
            b = b.to(torch.float64)
            r = ((a - b).abs() / (tol["atol"] + tol["rtol"] * b.abs())).max().item()
            worst = max(worst, r)
    return worst


def dumps(x):
    return json.dumps(x, allow_nan=False)


def build(c):
    name = "%s__%s" % (c["opt"], c["variant"])
    cls, path, has_max = OPTIMIZERS[c["opt"]]
    assert ("maximize" not in c["options"]) or has_max
    seed = seed_of(name)
    dtype = torch.float64 if c["dtype"] == "float64" else torch.float32
    init, grads = make_data(c, seed)
    expected, lrs, opt, params, history = run(c, init, grads, dtype)
    if c["check"]:
        c["check"](opt, params, history)
    sb, breakdown = state_bytes(opt, params, dtype)

    notes = [
        'torch.optim as shipped in Debian python3-torch (torch.__version__ == "%s"), CPU, one thread; '
        "constructed with foreach=False (the 1.13 default for foreach=None), i.e. the single-tensor loop path; "
        "options not listed take torch's defaults. Generated by scripts/gen_torch_golden.py." % torch.__version__,
        "Covers: %s." % c["covers"],
        OPT_NOTES[c["opt"]],
    ]
    if c["notes"]:
        notes.append(c["notes"])
    if c["groups"]:
        notes.append("Built as %s([{'params': [...], **group options}, ...], **options): each group's "
                     "listed options override options for it; params keep the param_groups order within "
                     "their group, grads/expected follow the params list." % cls.__name__)
    if c["sched"]:
        notes.append("Before step t, every group's lr is set to steps[t].lr (lr(t) = lr*t/3 for t <= 3, then "
                     "lr*(0.1 + 0.45*(1 + cos(pi*(t-3)/17)))); options.lr is the constructor's lr.")
    if c["missing"]:
        notes.append("Before each step p.grad is set to the step's gradient, or to None where the grads "
                     "entry is null: torch.optim skips such a param entirely that step (no update, no state "
                     "change, per-param step counters do not advance). Withheld: %s." % "; ".join(
                         "%s at steps %s" % (k, ", ".join(map(str, v))) for k, v in c["missing"].items()))
    data = ("Data: init = 0.5*randn(shape, float64) per param in order from torch.Generator seed %d; grads at "
            "step t = randn(shape, float64)*0.05*(1+0.5*sin t) per param in order from seed %d000+t (drawn "
            "even where withheld; b's grad is exactly zero at t=7)" % (seed, seed))
    if c["dtype"] == "float32":
        margin = float32_margin(c, init, grads, expected)
        assert margin < F32_MARGIN, "%s: float64 shadow run uses %.3f of the float32 tolerance" % (name, margin)
        data += ("; init and grads rounded to float32, params/grads/state float32, values written as the "
                 "float32 values converted to Python floats. A float64 run from the same float32-exact data "
                 "stays within %.3g of the tolerance (max |x64-x32|/(atol+rtol*|x32|)), so the tolerance "
                 "admits float or double internal arithmetic." % margin)
    else:
        data += "; values are float64."
    notes.append(data)
    notes.append("state_bytes_per_param = all tensors in the optimizer state after the last step except step "
                 "counters, / param elements, in the case's dtype (0-d float32 scalars count 4 bytes): %s." % breakdown)

    names = [n for n, _ in c["shapes"]]
    head = {
        "format": FORMAT,
        "optimizer": c["opt"],
        "variant": c["variant"],
        "reference": {"repo": "pytorch/pytorch", "commit": COMMIT, "path": path, "class": cls.__name__,
                      "notes": " ".join(notes)},
        "options": c["options"],
        "dtype": c["dtype"],
        "tolerance": TOL[c["dtype"]],
        "state_bytes_per_param": sb,
        "seed": seed,
    }
    lines = ["{"]
    for k, v in head.items():
        lines.append("  %s: %s," % (dumps(k), dumps(v)))
    if c["groups"]:
        groups = [dict({"params": gn}, **go) for gn, go in c["groups"]]
        lines.append('  "param_groups": %s,' % dumps(groups))
    lines.append('  "params": [')
    plines = []
    for (n, shape), x in zip(c["shapes"], init):
        plines.append("    " + dumps({"name": n, "shape": shape, "init": flat(x.to(dtype))}))
    lines.append(",\n".join(plines))
    lines.append("  ],")
    lines.append('  "steps": [')
    slines = []
    for t in range(STEPS):
        st = {"grads": [None if g is None else flat(g.to(dtype)) for g in grads[t]],
              "expected": [flat(x) for x in expected[t]]}
        if c["sched"]:
            st["lr"] = lrs[t]
        slines.append("    " + dumps(st))
    lines.append(",\n".join(slines))
    lines.append("  ]")
    lines.append("}")
    assert names == [p["name"] for p in json.loads("\n".join(lines))["params"]]
    return name, "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "golden", "data", "extra"),
                    help="output directory (default: tests/golden/data/extra)")
    ap.add_argument("--only", default="", help="comma-separated optimizer names to generate")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; fail if any file in --out differs from what would be written")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    only = set(filter(None, args.only.split(",")))
    unknown = only - set(OPTIMIZERS)
    if unknown:
        ap.error("unknown optimizer(s): %s" % ", ".join(sorted(unknown)))
    if not args.check:
        os.makedirs(args.out, exist_ok=True)
    total, bad = 0, []
    seen = set()
    for c in all_cases():
        if only and c["opt"] not in only:
            continue
        name, text = build(c)
        assert name not in seen, name
        seen.add(name)
        path = os.path.join(args.out, name + ".json")
        total += len(text)
        if args.check:
            try:
                with open(path) as f:
                    same = f.read() == text
            except OSError:
                same = False
            if not same:
                bad.append(name)
        else:
            with open(path, "w") as f:
                f.write(text)
        print("%-40s %7d bytes" % (name, len(text)))
    print("%d cases, %d bytes" % (len(seen), total))
    if bad:
        print("differs from disk: " + ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
