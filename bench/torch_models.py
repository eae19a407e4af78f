"""PyTorch twins of bdlab's models, for bench/engine.ts only (never used by the runner).

Usage: python3 bench/torch_models.py '<json>' with keys models, width (per model), batch, steps,
threads, windows. Prints one JSON line: {"torch": version, "threads": n, "results": [{model, width, train: {cpu, wall},
infer: {cpu, wall}}]} in images per second, per CPU-second of this process (time.process_time) and per
wall-clock second. The CPU-time rate is what bench/engine.ts compares at one thread: it is far less
disturbed than wall time by other processes sharing the machine's cores.
"""
import json
import sys
import time

import torch
from torch import nn


def scaled(c, w):
    return max(1, round(c * w))


def cnn(w, classes=10):
    c1, c2 = scaled(32, w), scaled(64, w)
    return nn.Sequential(
        nn.Conv2d(3, c1, 3, padding=1), nn.ReLU(), nn.Conv2d(c1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 64, scaled(512, w)), nn.ReLU(), nn.Linear(scaled(512, w), classes))


def lenet5(w, classes=10):
    c1, c2 = scaled(6, w), scaled(16, w)
    return nn.Sequential(
        nn.Conv2d(3, c1, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 25, scaled(120, w)), nn.ReLU(), nn.Linear(scaled(120, w), scaled(84, w)), nn.ReLU(),
        nn.Linear(scaled(84, w), classes))


def vgg16(w, classes=10):
    layers, cin = [], 3
    for block in [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]:
        for c in block:
            c = scaled(c, w)
            layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            cin = c
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin, scaled(512, w)), nn.ReLU(), nn.Linear(scaled(512, w), classes))


class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.short = (nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))
                      if stride != 1 or cin != c else nn.Identity())

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


def resnet34(w, classes=10):
    c = scaled(64, w)
    layers = [nn.Conv2d(3, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
    for blocks, ch, stride in [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)]:
        ch = scaled(ch, w)
        for b in range(blocks):
            layers.append(Block(c, ch, stride if b == 0 else 1))
            c = ch
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))


BUILDERS = {"cnn": cnn, "lenet5": lenet5, "vgg16": vgg16, "resnet34": resnet34}


def measure(name, width, batch, steps, windows):
    model = BUILDERS[name](width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    def rate(fn):
        # Median of several windows, as bench/engine.ts does for bdlab.
        fn()
        cpu_rates, wall_rates = [], []
        for _ in range(windows):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(steps):
                fn()
            cpu_rates.append(batch * steps / (time.process_time() - cpu))
            wall_rates.append(batch * steps / (time.perf_counter() - wall))
        return sorted(cpu_rates)[windows // 2], sorted(wall_rates)[windows // 2]

    model.train()
    train_cpu, train_wall = rate(step)
    model.eval()
    with torch.no_grad():
        infer_cpu, infer_wall = rate(lambda: model(x))
    return {"model": name, "width": width, "train": {"cpu": train_cpu, "wall": train_wall},
            "infer": {"cpu": infer_cpu, "wall": infer_wall}}


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(int(cfg.get("threads", 1)))
    torch.manual_seed(0)
    results = [measure(m, float(cfg["width"].get(m, 1)), int(cfg["batch"]), int(cfg["steps"].get(m, 3)), int(cfg.get("windows", 1)))
               for m in cfg["models"]]
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
