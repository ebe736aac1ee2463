# Generates the extra golden cases of adam8bit / adamw8bit
# (tests/golden/data/extra/adam*8bit__*.json) from bitsandbytes' own
# pure-PyTorch 8-bit Adam at commit 95f9af30, under Debian's torch 1.13.
#
# bitsandbytes itself cannot be imported under torch 1.13 (native library), so
# this script loads the reference functions from a checkout's source files,
# stripping only their @torch.compile decorators:
#   functional.py            create_dynamic_map
#   backends/triton/kernels_optim.py  optimizer_update_8bit_blockwise_pytorch,
#                                     _quantize_blockwise_pytorch, _dequantize_blockwise_pytorch
#   backends/cpu/ops.py      _optimizer_update_32bit_cpu, _compute_update_norm_and_scale
# and drives them like bitsandbytes/optim/optimizer.py Optimizer2State.
#
# Usage (from a directory holding the three files, extracted with
#   git -C BNB show 95f9af30:bitsandbytes/functional.py > functional_ref.py
#   git -C BNB show 95f9af30:bitsandbytes/backends/triton/kernels_optim.py > kernels_optim_ref.py
#   git -C BNB show 95f9af30:bitsandbytes/backends/cpu/ops.py > cpu_ops_ref.py):
#   /usr/bin/python3 gen_bnb8bit_golden.py OUT_DIR
# Throwaway harness: runs bitsandbytes' own pure-PyTorch 8-bit Adam pieces
# (@ 95f9af30) under torch 1.13 and writes descent golden cases.
import ast, json, math, sys, struct
import torch
torch.set_num_threads(1)

def load_funcs(path, names, strip_compile=True, extra_ns=None):
    src = open(path).read()
    tree = ast.parse(src)
    body = []
    for n in tree.body:
        if isinstance(n, ast.FunctionDef) and n.name in names:
            n.decorator_list = [d for d in n.decorator_list
                                if not (isinstance(d, ast.Attribute) and d.attr == 'compile')
                                and not (isinstance(d, ast.Call))]
            body.append(n)
    ns = {'torch': torch, 'math': math}
    from typing import Optional
    ns['Optional'] = Optional
    if extra_ns: ns.update(extra_ns)
    exec(compile(ast.Module(body=body, type_ignores=[]), path, 'exec'), ns)
    return ns

F = load_funcs('functional_ref.py', ['create_dynamic_map'])
K = load_funcs('kernels_optim_ref.py', ['_dequantize_blockwise_pytorch', '_quantize_blockwise_pytorch',
                                       'optimizer_update_8bit_blockwise_pytorch'])
C = load_funcs('cpu_ops_ref.py', ['_compute_update_norm_and_scale', '_optimizer_update_32bit_cpu'])

QMAP1 = F['create_dynamic_map'](signed=True)
QMAP2 = F['create_dynamic_map'](signed=False)

def set_blocksize(bs):
    global K
    # the one-line patch: `blocksize = 256` inside optimizer_update_8bit_blockwise_pytorch
    src = open('kernels_optim_ref.py').read().replace('    blocksize = 256\n', '    blocksize = %d\n' % bs)
    open('kernels_optim_patched.py', 'w').write(src)
    K = load_funcs('kernels_optim_patched.py', ['_dequantize_blockwise_pytorch', '_quantize_blockwise_pytorch',
                                                         'optimizer_update_8bit_blockwise_pytorch'])
    orig = K['_quantize_blockwise_pytorch']
    def wrapped(A, code, blocksize):
        track(A, None, code, blocksize)
        return orig(A, code, blocksize)
    K['_quantize_blockwise_pytorch'] = wrapped

# margin tracking: distance (in float32 ulps of the scaled value) of every
# requantized value from the nearest decision boundary (midpoint of adjacent codes)
MARGIN = [float('inf')]
def track(state_fp32, absmax, qmap, bs):
    flat = state_fp32.flatten()
    n = flat.numel()
    nb = (n + bs - 1) // bs
    pad = nb * bs - n
    if pad: flat = torch.nn.functional.pad(flat, (0, pad))
    blocks = flat.reshape(nb, bs)
    am = torch.max(torch.abs(blocks), dim=1, keepdim=True)[0]
    am[am == 0] = 1.0
    sc = (blocks / am).flatten()[:n]
    q = qmap
    mids = (q[:-1].double() + q[1:].double()) / 2
    x = sc.double()
    finite = torch.isfinite(x)
    if finite.sum() == 0: return
    x = x[finite]
    d = (x.unsqueeze(1) - mids.unsqueeze(0)).abs().min(dim=1)[0]
    ulp = torch.nextafter(sc[finite].abs(), torch.tensor(float('inf'))).double() - sc[finite].abs().double()
    ulp = torch.clamp(ulp, min=1e-45)
    m = (d / ulp).min().item()
    MARGIN[0] = min(MARGIN[0], m)

class Adam8bitRef:
    """Transcription of Optimizer2State.init_state/update_step for optimizer 'adam' (Adam8bit/AdamW8bit)."""
    def __init__(self, groups, lr, betas, eps, weight_decay, min_8bit_size, blocksize):
        self.groups = groups
        self.defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        self.min_8bit_size = min_8bit_size
        self.bs = blocksize
        self.state = {}
    def step(self):
        for group in self.groups:
            cfg = dict(self.defaults); cfg.update({k: v for k, v in group.items() if k != 'params'})
            for p in group['params']:
                if p.grad is None: continue
                st = self.state.get(id(p))
                if st is None:
                    st = {'step': 0}
                    if p.numel() < self.min_8bit_size:
                        st['state1'] = torch.zeros_like(p, dtype=torch.float32)
                        st['state2'] = torch.zeros_like(p, dtype=torch.float32)
                    else:
                        st['state1'] = torch.zeros_like(p, dtype=torch.uint8)
                        st['state2'] = torch.zeros_like(p, dtype=torch.uint8)
                        blocks = (p.numel() // self.bs) + bool(p.numel() % self.bs)
                        st['absmax1'] = torch.zeros((blocks,), dtype=torch.float32)
                        st['absmax2'] = torch.zeros((blocks,), dtype=torch.float32)
                    self.state[id(p)] = st
                st['step'] += 1
                b1, b2 = cfg['betas']
                if st['state1'].dtype == torch.float:
                    C['_optimizer_update_32bit_cpu']('adam', p.grad, p, st['state1'], st['state2'], None, 0.0, 0.0,
                        b1, b2, 0.0, 0.0, cfg['eps'], cfg['weight_decay'], st['step'], cfg['lr'], 1.0)
                else:
                    K['optimizer_update_8bit_blockwise_pytorch'](p, p.grad, st['state1'], st['state2'], b1, b2, 0.0, 0.0,
                        cfg['eps'], st['step'], cfg['lr'], QMAP1, QMAP2, st['absmax1'], st['absmax2'],
                        cfg['weight_decay'], 1.0, False, optimizer_name='adam')

def run_case(name, variant, dtype, shapes, options, steps, seed, min8, bs, groups=None, withheld=(), nonfinite=(),
             lr_sched=None, wd=0.0):
    set_blocksize(bs)
    MARGIN[0] = float('inf')
    dt = {'float32': torch.float32, 'float64': torch.float64, 'bfloat16': torch.bfloat16}[dtype]
    gen = torch.Generator().manual_seed(seed)
    params = []
    for pname, shape in shapes:
        params.append(torch.nn.Parameter((0.5 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dt)))
    init = [p.detach().to(torch.float64).flatten().tolist() for p in params]
    if groups is None:
        pgroups = [{'params': params}]
    else:
        pgroups = []
        for g in groups:
            d = {k: v for k, v in g.items() if k != 'params'}
            d['params'] = [params[[s[0] for s in shapes].index(n)] for n in g['params']]
            pgroups.append(d)
    opt = Adam8bitRef(pgroups, options.get('lr', 1e-3), tuple(options.get('betas', (0.9, 0.999))),
                      options.get('eps', 1e-8), options.get('weight_decay', 1e-2 if name == 'adamw8bit' else 0.0), min8, bs)
    out_steps = []
    for t in range(1, steps + 1):
        gg = torch.Generator().manual_seed(seed * 1000 + t)
        grads = []
        for i, (pname, shape) in enumerate(shapes):
            g = (torch.randn(shape, generator=gg, dtype=torch.float64) * 0.05 * (1 + 0.5 * math.sin(t))).to(dt)
            if (t, pname) in nonfinite:
                v = nonfinite[(t, pname)]
                g.view(-1)[v[0]] = v[1]
            if (t, pname) in withheld:
                p = params[i]; p.grad = None; grads.append(None)
            else:
                params[i].grad = g.clone(); grads.append(g)
        step = {}
        if lr_sched is not None:
            lr = lr_sched(t)
            for g in opt.groups: g['lr'] = lr
            opt.defaults['lr'] = lr
            step['lr'] = lr
        with torch.no_grad():
            # margins: re-run the requantization math on the new states before the reference writes them
            opt.step()
        def enc(x):
            if math.isnan(x): return 'nan'
            if math.isinf(x): return 'inf' if x > 0 else '-inf'
            return x
        step['grads'] = [None if g is None else [enc(v) for v in g.to(torch.float64).flatten().tolist()] for g in grads]
        step['expected'] = [[enc(v) for v in p.detach().to(torch.float64).flatten().tolist()] for p in params]
        out_steps.append(step)
    return params, init, out_steps, MARGIN[0]


COMMIT = '95f9af309d4d5793847169c39288dcd3fcbdf564'
BASE_NOTES = ("Generated by a throwaway harness with torch 1.13.0a0 (Debian python3-torch), CPU, one thread. bitsandbytes "
  "cannot be imported under torch 1.13 (native library), so, as for the shared adam8bit cases, the reference is the repo's own "
  "pure-PyTorch code at this commit, run unchanged apart from stripping the @torch.compile decorators: "
  "bitsandbytes/backends/triton/kernels_optim.py optimizer_update_8bit_blockwise_pytorch + _quantize_blockwise_pytorch + "
  "_dequantize_blockwise_pytorch for tensors with >= min_8bit_size elements, bitsandbytes/backends/cpu/ops.py "
  "_optimizer_update_32bit_cpu (with _compute_update_norm_and_scale; max_unorm 0) for smaller tensors (float32 state), "
  "maps from bitsandbytes/functional.py create_dynamic_map(signed=True/False), driven by a transcription of "
  "bitsandbytes/optim/optimizer.py Optimizer2State.init_state/update_step (optimizer_name 'adam', optim_bits 8, gnorm_scale 1.0, "
  "skip_zeros False; per-param step counter; params without a grad skipped; group options override the defaults). "
  "AdamW8bit is the same 'adam' update with weight_decay default 1e-2 (decoupled, applied before the update in both paths). "
  "All arithmetic is float32 (g.float(), p.float(), then p.copy_ back into the param's dtype), also for float64 params, "
  "whose state is float32 / uint8 as well. ")

def write(path, optimizer, variant, dtype, shapes, options, steps, seed, min8, bs, notes, groups=None, **kw):
    params, init, out_steps, margin = run_case(optimizer, variant, dtype, shapes, options, steps, seed, min8, bs,
                                               groups=groups, **kw)
    case = {
        'format': 'descent-golden/1', 'optimizer': optimizer, 'variant': variant,
        'reference': {'repo': 'bitsandbytes-foundation/bitsandbytes', 'commit': COMMIT,
                      'path': 'bitsandbytes/backends/triton/kernels_optim.py, bitsandbytes/backends/cpu/ops.py, bitsandbytes/optim/optimizer.py',
                      'class': ('AdamW8bit' if optimizer == 'adamw8bit' else 'Adam8bit') + ' (Optimizer2State, optimizer_name adam)',
                      'notes': BASE_NOTES + notes + (" Seed screening: the smallest distance of any requantized value s/absmax from a "
                               "code decision boundary over the run is %.1f float32 ulps (seeds screened for >= 8, so that "
                               "last-bit differences in the moment arithmetic (ATen's AVX2 FMA) cannot flip a code)." % margin) +
                      (" Data: init = 0.5*randn(shape, float64) per param in order from torch.Generator seed %d; grads at step t = "
                       "randn(shape, float64)*0.05*(1+0.5*sin t) per param in order from seed %d*1000+t, both cast to the case dtype." % (seed, seed))},
        'options': options, 'dtype': dtype, 'tolerance': {'rtol': 1e-5, 'atol': 1e-6}, 'seed': seed,
        'params': [{'name': n, 'shape': list(s), 'init': init[i]} for i, (n, s) in enumerate(shapes)],
        'steps': out_steps,
    }
    if groups is not None: case['param_groups'] = groups
    json.dump(case, open(path, 'w'))
    return margin

def screen(optimizer, dtype, shapes, options, steps, min8, bs, seeds, need=8.0, **kw):
    best = (-1, None)
    for sd in seeds:
        _, _, _, m = run_case(optimizer, '', dtype, shapes, options, steps, sd, min8, bs, **kw)
        if m >= need: return sd, m
        if m > best[0]: best = (m, sd)
    return best[1], best[0]

if __name__ == '__main__':
    import os
    out = sys.argv[1]
    specs = []
    # 1. float64 params (float32 arithmetic and state), a 0-d param and a small 32-bit param, weight decay
    specs.append(dict(optimizer='adam8bit', variant='float64_wd', dtype='float64',
        shapes=[('w', (24, 30)), ('b', (7,)), ('s', ())],
        options={'lr': 0.005, 'betas': [0.85, 0.995], 'eps': 1e-6, 'weight_decay': 0.05, 'min_8bit_size': 200, 'blocksize': 256},
        min8=200, bs=256, steps=20,
        notes="Covers: float64 params, weight_decay > 0, other betas/eps, a 720-element 8-bit tensor (2 full blocks + a partial one), "
              "a 32-bit [7] tensor and a 0-d tensor (32-bit path)."))
    # 2. adamw8bit defaults (weight_decay 1e-2), float32, blocksize 256
    specs.append(dict(optimizer='adamw8bit', variant='default', dtype='float32',
        shapes=[('w', (20, 32)), ('b', (20,)), ('k', (2, 3, 4, 5))],
        options={'lr': 0.01, 'min_8bit_size': 100, 'blocksize': 256},
        min8=100, bs=256, steps=20,
        notes="Covers: AdamW8bit with its default weight_decay 1e-2, float32; w (640: 3 blocks) and k (120: 1 partial block) are 8-bit, b is 32-bit."))
    # 3. min_8bit_size 0: every tensor quantized, including a 0-d one and a 1-element one; blocksize 2048
    specs.append(dict(optimizer='adamw8bit', variant='all_8bit_block2048', dtype='float32',
        shapes=[('w', (50, 48)), ('b', (3,)), ('s', ())],
        options={'lr': 0.002, 'betas': [0.9, 0.99], 'weight_decay': 0.1, 'min_8bit_size': 0, 'blocksize': 2048},
        min8=0, bs=2048, steps=20,
        notes="Covers: min_8bit_size 0 (every tensor, even the 0-d one, is quantized: one partial block each), blocksize 2048 "
              "(PATCHED one line: blocksize = 256 -> 2048 in optimizer_update_8bit_blockwise_pytorch; the harness allocates "
              "ceil(n/2048) absmax entries), w = 2400 elements (1 full + 1 partial block)."))
    # 4. param groups, missing grads and an lr schedule
    specs.append(dict(optimizer='adam8bit', variant='groups_missing_lr', dtype='float32',
        shapes=[('w', (16, 20)), ('v', (10, 30)), ('b', (5,))],
        options={'lr': 0.01, 'min_8bit_size': 256, 'blocksize': 256},
        groups=[{'params': ['w', 'b'], 'weight_decay': 0.02}, {'params': ['v'], 'betas': [0.8, 0.9], 'eps': 1e-4}],
        withheld={(3, 'w'), (4, 'v'), (4, 'b'), (9, 'w')},
        lr_sched=lambda t: 0.01 * (0.9 ** (t - 1)),
        min8=256, bs=256, steps=15,
        notes="Covers: two param groups with their own weight_decay / betas / eps, gradients withheld at some steps (param "
              "skipped, its step counter not advanced), and an lr changed before every step (the per-step 'lr' key)."))
    # 5. bfloat16 params
    specs.append(dict(optimizer='adam8bit', variant='bfloat16', dtype='bfloat16',
        shapes=[('w', (16, 32)), ('b', (16,))],
        options={'lr': 0.01, 'min_8bit_size': 256, 'blocksize': 256},
        min8=256, bs=256, steps=15,
        notes="Covers: bfloat16 params and grads (float32 arithmetic, then p.copy_ rounds to bfloat16)."))
    specs.append(dict(optimizer='adam8bit', variant='nonfinite', dtype='float32',
        shapes=[('w', (20, 30)), ('v', (300,)), ('b', (6,))],
        options={'lr': 0.01, 'min_8bit_size': 256, 'blocksize': 256},
        nonfinite={(5, 'w'): (300, float('nan')), (7, 'v'): (10, float('inf')), (6, 'b'): (2, float('-inf'))},
        min8=256, bs=256, steps=10,
        notes="Covers: non-finite gradients as this reference treats them (no special case, unlike the CUDA kernel, which zeroes "
              "the state and skips the update): a NaN in w's gradient at step 5 (element 300, block 1 of 3) makes that element NaN, "
              "the block's absmax NaN (torch.max propagates it), every code of the block 0 (argmin over NaN), so the whole block "
              "dequantizes to NaN from step 6 on; an inf in v at step 7 gives absmax inf, inf/inf = NaN for that element and "
              "0 for the others, then NaN everywhere in the block; -inf in the 32-bit tensor b at step 6 (NaN from m/sqrt(v) = inf/inf)."))
    for sp in specs:
        kw = {}
        for key in ('groups', 'withheld', 'lr_sched', 'nonfinite'):
            if key in sp: kw[key] = sp[key]
        seeds = range(sum(map(ord, sp['variant'])) * 10, sum(map(ord, sp['variant'])) * 10 + 200)
        sd, m = screen(sp['optimizer'], sp['dtype'], sp['shapes'], sp['options'], sp['steps'], sp['min8'], sp['bs'], seeds, **kw)
        path = os.path.join(out, '%s__%s.json' % (sp['optimizer'], sp['variant']))
        m2 = write(path, sp['optimizer'], sp['variant'], sp['dtype'], sp['shapes'], sp['options'], sp['steps'], sd,
                   sp['min8'], sp['bs'], sp['notes'], **kw)
        print(path, 'seed', sd, 'margin', m, m2)
