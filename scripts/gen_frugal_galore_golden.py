# Generates the extra golden cases of frugal and galore_adamw
# (tests/golden/data/extra/frugal__*.json, galore_adamw__*.json) by running the
# authors' code under Debian's torch 1.13, recording the random block picks
# (block_selection) and the projector factors (projections) as the cases' keys.
#
# Set-up (paths as in the script; adjust /tmp/frugal):
#   FRUGAL @ c7ebe4c: git show c7ebe4c:frugal/<file> > /tmp/frugal/frugal_ref/frugal/<file>
#     for __init__.py adamw.py lion.py sgd.py proj_optimizer_templates.py galore_projector.py coordinate_projector.py
#   GaLore @ 2cc66f8: galore_torch/adamw.py, galore_projector.py -> /tmp/frugal/galore_ref/galore_torch/
#     plus an empty __init__.py and a stub galore_projector_tensor.py (class GaLoreProjectorTensor)
#   /tmp/frugal/shims/transformers/utils/versions.py: def require_version(*a, **k): pass
# Usage: /usr/bin/python3 gen_frugal_galore_golden.py OUT_DIR
# Throwaway harness: runs FRUGAL (hungquangbui02022003/FRUGAL @ c7ebe4c) and GaLore (jiaweizzhao/GaLore @ 2cc66f8)
# on torch 1.13 and writes descent golden cases, recording block selections and projector factors.
import sys, math, json, os
import torch
torch.set_num_threads(1)
sys.path.insert(0, '/tmp/frugal/shims')
import torch.optim.optimizer as _oo
_oo._dispatch_sqrt = math.sqrt
sys.path.insert(0, '/tmp/frugal/frugal_ref')
sys.path.insert(0, '/tmp/frugal/galore_ref')
import warnings; warnings.filterwarnings('ignore')
import frugal
from frugal.galore_projector import GaLoreProjector as FrugalProjector
from galore_torch.adamw import AdamW as GaLoreAdamW
from galore_torch.galore_projector import GaLoreProjector

def enc(x):
    if math.isnan(x): return 'nan'
    if math.isinf(x): return 'inf' if x > 0 else '-inf'
    return x

def make_params(shapes, dt, seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter((0.5 * torch.randn(s, generator=gen, dtype=torch.float64)).to(dt)) for _, s in shapes]

def grads_at(shapes, dt, seed, t):
    gg = torch.Generator().manual_seed(seed * 1000 + t)
    return [(torch.randn(s, generator=gg, dtype=torch.float64) * 0.05 * (1 + 0.5 * math.sin(t))).to(dt) for _, s in shapes]

def run(kind, shapes, dtype, seed, steps, kwargs, groups, withheld=(), rng_seed=None):
    dt = {'float32': torch.float32, 'float64': torch.float64}[dtype]
    params = make_params(shapes, dt, seed)
    names = [n for n, _ in shapes]
    byname = dict(zip(names, params))
    pg = []
    for g in groups:
        d = {k: v for k, v in g.items() if k != 'params'}
        d['params'] = [byname[n] for n in g['params']]
        pg.append(d)
    if kind == 'block':
        opt = frugal.BlockAdamW(pg, no_deprecation_warning=True, **kwargs)
    elif kind == 'galore':
        opt = frugal.GaloreAdamW(pg, no_deprecation_warning=True, **kwargs)
    else:
        opt = GaLoreAdamW(pg, no_deprecation_warning=True, **kwargs)
    selections, projections = [], []
    cur = {'t': 0}
    name_of = {id(p): n for n, p in zip(names, params)}
    if kind in ('block', 'galore'):
        orig = opt._update_states
        def wrapped(group):
            orig(group)
            t = cur['t']
            if kind == 'block':
                act = [i for i, p in enumerate(group['params']) if opt.state[p].get('active')]
                selections.append({'step': t, 'active_indices': act, 'active': [name_of[id(group['params'][i])] for i in act]})
            else:
                for p in group['params']:
                    pr = opt.state[p].get('projector')
                    if pr is None or pr.ortho_matrix is None: continue
                    mats = pr.ortho_matrix if isinstance(pr.ortho_matrix, list) else [pr.ortho_matrix]
                    sides = ['left', 'right'] if pr.proj_side == 'full' else [pr.proj_side]
                    for side, m in zip(sides, mats):
                        projections.append({'step': t, 'param': name_of[id(p)], 'type': side, 'shape': list(m.shape),
                                            'matrix': m.double().flatten().tolist()})
        opt._update_states = wrapped
    else:
        orig_project = GaLoreProjector.project
        owner = {}
        def project(self, g, it):
            before = self.ortho_matrix
            out = orig_project(self, g, it)
            if self.ortho_matrix is not before:
                mats = self.ortho_matrix if isinstance(self.ortho_matrix, list) else [self.ortho_matrix]
                pt = self.proj_type
                if pt == 'full': sides = ['left', 'right']
                elif pt in ('left', 'right'): sides = [pt]
                elif pt == 'std': sides = ['right' if g.shape[0] >= g.shape[1] else 'left']
                else: sides = ['left' if g.shape[0] >= g.shape[1] else 'right']
                for sd, m in zip(sides, mats):
                    projections.append({'step': cur['t'], 'proj': id(self), 'type': sd, 'shape': list(m.shape),
                                        'matrix': m.double().flatten().tolist()})
            return out
        GaLoreProjector.project = project
    if rng_seed is not None: torch.manual_seed(rng_seed)
    out_steps = []
    for t in range(1, steps + 1):
        cur['t'] = t
        gs = grads_at(shapes, dt, seed, t)
        step = {'grads': []}
        for n, p, g in zip(names, params, gs):
            if (t, n) in withheld:
                p.grad = None; step['grads'].append(None)
            else:
                p.grad = g.clone(); step['grads'].append([enc(v) for v in g.double().flatten().tolist()])
        opt.step()
        step['expected'] = [[enc(v) for v in p.detach().double().flatten().tolist()] for p in params]
        out_steps.append(step)
    if kind == 'galore_adamw':
        GaLoreProjector.project = orig_project
        pid = {}
        for p in params:
            st = opt.state.get(p, {})
            if 'projector' in st: pid[id(st['projector'])] = name_of[id(p)]
        for e in projections: e['param'] = pid[e.pop('proj')]
    init = [p.detach().double().flatten().tolist() for p in make_params(shapes, dt, seed)]
    return init, out_steps, selections, projections

FRUGAL_REF = {'repo': 'hungquangbui02022003/FRUGAL', 'commit': 'c7ebe4c242f7908e036c287e3a10512a84634648'}
GALORE_REF = {'repo': 'jiaweizzhao/GaLore', 'commit': '2cc66f88cce189e505affbb91042a8e77f5bf4e9',
              'path': 'galore_torch/adamw.py, galore_torch/galore_projector.py', 'class': 'AdamW (GaLoreAdamW)'}
COMMON = ("Generated by a throwaway harness with torch 1.13.0a0 (Debian python3-torch), CPU, one thread, from the reference at the "
          "listed commit. Data: init = 0.5*randn(shape, float64) per param in order from torch.Generator seed {seed}; grads at step "
          "t = randn(shape, float64)*0.05*(1+0.5*sin t) per param in order from seed {seed}*1000+t, cast to the case dtype. ")

def write(path, optimizer, variant, ref, notes, kind, shapes, dtype, seed, steps, kwargs, groups, options, withheld=(),
          rng_seed=None, tol=None):
    init, st, sel, proj = run(kind, shapes, dtype, seed, steps, kwargs, groups, withheld, rng_seed)
    case = {'format': 'descent-golden/1', 'optimizer': optimizer, 'variant': variant,
            'reference': dict(ref, notes=COMMON.format(seed=seed) + notes), 'options': options, 'dtype': dtype,
            'tolerance': tol or ({'rtol': 1e-9, 'atol': 1e-12} if dtype == 'float64' else {'rtol': 1e-5, 'atol': 1e-6}),
            'seed': seed, 'params': [{'name': n, 'shape': list(s), 'init': init[i]} for i, (n, s) in enumerate(shapes)],
            'steps': st, 'param_groups': groups}
    if sel: case['block_selection'] = sel
    if proj: case['projections'] = proj
    json.dump(case, open(path, 'w'))
    print(path, len(sel), 'selections', len(proj), 'projections')

if __name__ == '__main__':
    out = sys.argv[1]
    shim = ("Shims for torch 1.13 (no change to the algorithm): torch.optim.optimizer._dispatch_sqrt = math.sqrt and a stub "
            "transformers.utils.versions.require_version. ")
    B = dict(FRUGAL_REF, path='frugal/proj_optimizer_templates.py (BlockOptimizer), frugal/adamw.py', **{'class': 'BlockAdamW'})
    G = dict(FRUGAL_REF, path='frugal/proj_optimizer_templates.py (GaloreOptimizer), frugal/galore_projector.py, frugal/adamw.py',
             **{'class': 'GaloreAdamW'})
    sh4 = [('w', (4, 3)), ('b', (4,)), ('k', (2, 3, 2, 2)), ('v', (3, 5)), ('u', (5,))]
    # 1. block, ascending, sgd remainder, float64, first projectable param missing some grads
    kw = dict(lr=0.01, betas=(0.85, 0.99), eps=1e-8, weight_decay=0.02, correct_bias=True, density=0.5, update_gap=3,
              block_order='ascending', inactive_update_rule='sgd', inactive_lr_scale=0.5, proj_params_lr_scale=0.8,
              reset_statistics=True)
    opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
    groups = [{'params': ['b', 'u'], 'is_proj_params': False}, {'params': ['w', 'k', 'v', 'u2'] if False else ['w', 'k', 'v'], 'is_proj_params': True}]
    write(os.path.join(out, 'frugal__block_ascending_sgd.json'), 'frugal', 'block_ascending_sgd', B,
          shim + "BlockAdamW, block_order 'ascending' (cyclic windows of round(3*0.5) = 2 tensors), inactive_update_rule 'sgd', "
          "inactive_lr_scale 0.5, proj_params_lr_scale 0.8, update_gap 3. The group's first projectable param w has no gradient at "
          "steps 4 and 5: its step count (which decides the re-selection) does not advance then, so re-selections happen at the "
          "steps listed in block_selection (recorded from the reference's states after each _update_states call).",
          'block', sh4, 'float64', 501, 16, kw, groups, opts, withheld={(4, 'w'), (5, 'w'), (7, 'b')})
    # 2. block, descending, 'no' remainder, float32, no bias correction
    kw = dict(lr=0.02, weight_decay=0.0, correct_bias=False, density=0.6, update_gap=2, block_order='descending',
              inactive_update_rule='no')
    groups = [{'params': ['b'], 'is_proj_params': False}, {'params': ['w', 'k', 'v', 'u'], 'is_proj_params': True}]
    write(os.path.join(out, 'frugal__block_descending_f32.json'), 'frugal', 'block_descending_f32', B,
          shim + "BlockAdamW in float32, block_order 'descending' (round(4*0.6) = 2 tensors per window), inactive_update_rule 'no' "
          "(inactive tensors only decay, and here weight_decay is 0), correct_bias False, update_gap 2.",
          'block', sh4, 'float32', 502, 14, kw, groups, kw)
    # 3. block, mirror, random sign
    kw = dict(lr=0.01, density=0.5, update_gap=4, block_order='mirror')
    groups = [{'params': ['b'], 'is_proj_params': False}, {'params': ['w', 'k', 'v', 'u'], 'is_proj_params': True}]
    write(os.path.join(out, 'frugal__block_mirror.json'), 'frugal', 'block_mirror', B,
          shim + "BlockAdamW, block_order 'mirror' (pairs i and n-1-i, round(4*0.5) = 2 tensors), other options at their defaults "
          "(weight_decay 0.01, sign_sgd remainder).", 'block', sh4, 'float64', 503, 14, kw, groups, kw)
    # 4. block, random, recorded picks, density rounding half to even (round(2.5) = 2)
    sh5 = [('a', (3, 3)), ('b', (4,)), ('c', (2, 5)), ('d', (5,)), ('e', (3, 2))]
    kw = dict(lr=0.01, density=0.5, update_gap=3, block_order='random', weight_decay=0.1)
    groups = [{'params': ['b'], 'is_proj_params': False}, {'params': ['a', 'c', 'd', 'e', 'b2'] if False else ['a', 'c', 'd', 'e'], 'is_proj_params': True}]
    write(os.path.join(out, 'frugal__block_random_wd.json'), 'frugal', 'block_random_wd', B,
          shim + "BlockAdamW, block_order 'random': torch.randperm from the global generator (torch.manual_seed(7) right before the "
          "first step); the picks are recorded in block_selection.", 'block', sh5, 'float64', 504, 14, kw, groups, kw, rng_seed=7)
    # 5. galore mode, proj_side full, no reset (moments carry over: projections recorded), sgd remainder
    shg = [('w', (5, 4)), ('b', (4,)), ('v', (3, 6))]
    kw = dict(lr=0.01, density=0.5, update_gap=3, proj_side='full', proj_type='svd', reset_statistics=False,
              inactive_update_rule='sgd', inactive_lr_scale=0.3)
    groups = [{'params': ['b'], 'is_proj_params': False}, {'params': ['w', 'v'], 'is_proj_params': True}]
    write(os.path.join(out, 'frugal__galore_full_noreset.json'), 'frugal', 'galore_full_noreset', G,
          shim + "GaloreAdamW, proj_side 'full' (both factors, rank round(min*0.5)), proj_type 'svd' (float32 SVD of the current "
          "gradient, cast back), reset_statistics False: the low-rank moments carry over across re-projections, so the "
          "trajectory depends on the signs of the singular vectors; the reference's factors at every rebuild are in "
          "'projections' (step = the 1-based step at whose start the rebuild happened).",
          'galore', shg, 'float64', 505, 12, kw, groups, kw)
    # 6. galore mode, reverse_std, float32, random projector
    kw = dict(lr=0.02, density=0.4, update_gap=4, proj_side='reverse_std', proj_type='random', weight_decay=0.05,
              proj_params_lr_scale=1.5)
    write(os.path.join(out, 'frugal__galore_random_f32.json'), 'frugal', 'galore_random_f32', G,
          shim + "GaloreAdamW in float32, proj_side 'reverse_std', proj_type 'random' (torch.nn.init.orthogonal_ from the global "
          "generator, torch.manual_seed(11) before the first step; the factors are recorded in 'projections'), "
          "proj_params_lr_scale 1.5.", 'galore', shg, 'float32', 506, 12, kw, groups, kw, rng_seed=11)
    # 7. galore mode, proj_side left/right forced, randperm projector, correct_bias False
    kw = dict(lr=0.01, density=0.5, update_gap=5, proj_side='left', proj_type='randperm', correct_bias=False)
    write(os.path.join(out, 'frugal__galore_randperm_left.json'), 'frugal', 'galore_randperm_left', G,
          shim + "GaloreAdamW, proj_side 'left' (for every shape), proj_type 'randperm' (columns of a permutation matrix from "
          "the global generator, torch.manual_seed(13); recorded in 'projections'), correct_bias False.",
          'galore', shg, 'float64', 507, 12, kw, groups, kw, rng_seed=13)
    # GaLore
    gnotes = ("Shims (no change to the algorithm): a stub transformers.utils.versions.require_version and a stub "
              "galore_projector_tensor module (only used for > 2-D GaLore params). The factors at every projector rebuild are "
              "recorded in 'projections' (step = the 1-based case step; the rebuild happens when the param's own step count "
              "before the step is a multiple of update_proj_gap). ")
    shq = [('w', (6, 4)), ('b', (4,)), ('v', (3, 7)), ('x', (5, 5))]
    # 8. full projection, float32, correct_bias False, eps
    kw = dict(lr=0.01, eps=1e-7, weight_decay=0.0, correct_bias=False)
    groups = [{'params': ['b']}, {'params': ['w', 'v', 'x'], 'rank': 2, 'update_proj_gap': 3, 'scale': 0.5, 'proj_type': 'full'}]
    write(os.path.join(out, 'galore_adamw__full_f32.json'), 'galore_adamw', 'full_f32', GALORE_REF,
          gnotes + "proj_type 'full' (A^T g B^T, rank 2), float32, correct_bias False, eps 1e-7.",
          'galore_adamw', shq, 'float32', 508, 12, kw, groups, {'lr': 0.01, 'eps': 1e-7, 'weight_decay': 0.0, 'correct_bias': False})
    # 9. left/right forced per group, missing grads, weight decay
    kw = dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.05)
    groups = [{'params': ['b']}, {'params': ['w', 'v'], 'rank': 3, 'update_proj_gap': 4, 'scale': 1.0, 'proj_type': 'left'},
              {'params': ['x'], 'rank': 2, 'update_proj_gap': 2, 'scale': 2.0, 'proj_type': 'right'}]
    write(os.path.join(out, 'galore_adamw__left_right_missing.json'), 'galore_adamw', 'left_right_missing', GALORE_REF,
          gnotes + "Two GaLore groups (proj_type 'left' rank 3 gap 4 scale 1; 'right' rank 2 gap 2 scale 2), betas (0.8, 0.95), "
          "weight_decay 0.05 (after the step). Gradients withheld for w at steps 3-4 and for x at step 5: those params skip the "
          "step and their step counts (which time the rebuilds) lag the case's step.",
          'galore_adamw', shq, 'float64', 509, 14, kw, groups, {'lr': 0.02, 'betas': [0.8, 0.95], 'weight_decay': 0.05},
          withheld={(3, 'w'), (4, 'w'), (5, 'x')})
