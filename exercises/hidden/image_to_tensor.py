"""Hidden helper for image-to-tensor: a small picture instead of noise, so that a
report can show a scrambled reshape at a glance (the check discloses it)."""

from __future__ import annotations

from typing import Any

import torch

HEIGHT, WIDTH = 12, 16


def picture(seed: int) -> dict[str, Any]:
    """A 12 x 16 landscape (sky, sun, house, grass) as an [H, W, 3] uint8 tensor, its
    colours jittered by the seed so that no two pixels need be equal."""
    gen = torch.Generator().manual_seed((seed + 0x1A6E) % 2**63)
    rows = torch.arange(HEIGHT).unsqueeze(1).expand(HEIGHT, WIDTH)
    cols = torch.arange(WIDTH).unsqueeze(0).expand(HEIGHT, WIDTH)
    image = torch.zeros(HEIGHT, WIDTH, 3)
    image[...] = torch.tensor([90.0, 150.0, 235.0])  # sky
    image[..., 2] -= 6.0 * rows  # deeper blue at the top
    sun = (rows - 2.5) ** 2 + (cols - 12.5) ** 2 <= 5.0
    image[sun] = torch.tensor([250.0, 210.0, 40.0])
    grass = rows >= 9
    image[grass] = torch.tensor([40.0, 160.0, 60.0])
    house = (rows >= 5) & (rows < 9) & (cols >= 3) & (cols < 8)
    image[house] = torch.tensor([200.0, 50.0, 40.0])
    roof = (rows == 4) & (cols >= 2) & (cols < 9)
    image[roof] = torch.tensor([110.0, 60.0, 40.0])
    image += torch.randint(-12, 13, image.shape, generator=gen).float()
    return {"pixels": image.clamp(0, 255).to(torch.uint8)}
