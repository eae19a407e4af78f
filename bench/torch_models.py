"""PyTorch twins of bdlab's models, for bench/engine.ts only (never used by the runner).

Usage: python3 bench/torch_models.py, then one JSON request per line on stdin:
{"model", "width", "batch", "steps", "mode": "train" | "infer", "threads", "warm_up": seconds}; each is answered by one
JSON line {"cpu", "wall"}: images per CPU-second of this process (time.process_time) and per wall-clock
second over `steps` steps. A model is built and warmed up on its first request and kept, so that
bench/engine.ts can alternate windows of bdlab and PyTorch: both then see the same machine state,
which on a shared machine drifts by more than the differences being measured.
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


class Twin:
    def __init__(self, name, width, batch, warm_up):
        torch.manual_seed(0)
        self.model = BUILDERS[name](width)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x = torch.rand(batch, 3, 32, 32)
        self.y = torch.randint(0, 10, (batch,))
        self.loss_fn = nn.CrossEntropyLoss()
        self.batch = batch
        # Warmed up as long as bdlab's side is (bench/engine.ts, the budget's warmUpMs).
        for fn in (self.train_step, self.infer_step):
            start, runs = time.perf_counter(), 0
            while runs < 2 or time.perf_counter() - start < warm_up:
                fn()
                runs += 1

    def train_step(self):
        self.model.train()
        self.opt.zero_grad()
        self.loss_fn(self.model(self.x), self.y).backward()
        self.opt.step()

    def infer_step(self):
        self.model.eval()
        with torch.no_grad():
            self.model(self.x)

    def window(self, mode, steps):
        fn = self.train_step if mode == "train" else self.infer_step
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(steps):
            fn()
        return {"cpu": self.batch * steps / (time.process_time() - cpu), "wall": self.batch * steps / (time.perf_counter() - wall)}


def main():
    twins = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        torch.set_num_threads(int(req.get("threads", 1)))
        key = (req["model"], float(req["width"]), int(req["batch"]))
        if key not in twins:
            twins[key] = Twin(*key, float(req.get("warm_up", 2.0)))
        print(json.dumps(twins[key].window(req["mode"], int(req["steps"]))), flush=True)


if __name__ == "__main__":
    main()
