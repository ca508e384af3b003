# Generates tests/data/gradscaler_torch.json with the real torch.amp.GradScaler (CPU is enough):
#   OUT=tests/data python3 tests/data/gen_gradscaler_torch.py
# Run on the GPU host on 2026-12-05 with torch 2.11.0+cu130 (this machine has no torch).
import json, math, torch
def run(init, growth, backoff, interval, pattern):
    s = torch.amp.GradScaler("cpu", init_scale=init, growth_factor=growth, backoff_factor=backoff, growth_interval=interval)
    p = torch.nn.Parameter(torch.zeros(1)); opt = torch.optim.SGD([p], lr=1.0)
    out = []
    for inf in pattern:
        opt.zero_grad(); s.scale(torch.ones(1, requires_grad=True).sum())
        p.grad = torch.tensor([math.inf if inf else 1.0]) * s.get_scale()
        before = p.detach().clone(); s.step(opt); s.update()
        out.append({"found_inf": inf, "scale_after": s.get_scale(), "skipped": bool(torch.equal(before, p.detach()))})
    return {"init_scale": init, "growth_factor": growth, "backoff_factor": backoff, "growth_interval": interval, "steps": out}
pat = [False]*7 + [True] + [False]*4 + [True, True] + [False]*11 + [True] + [False]*3
cases = [run(2.0**16, 2.0, 0.5, 3, pat), run(2.0**16, 2.0, 0.5, 5, pat), run(2.0**126, 2.0, 0.5, 1, [False]*4 + [True] + [False]*3), run(2000.0, 3.0, 0.25, 2, pat)]
doc = {"generator": "torch.amp.GradScaler('cpu') " + torch.__version__, "cases": cases}
import os; open(os.environ["OUT"] + "/gradscaler_torch.json", "w").write(json.dumps(doc, indent=1) + "\n")
print(torch.__version__, [c["steps"][-1]["scale_after"] for c in cases])
