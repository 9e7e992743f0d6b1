"""Reference solution: image-to-tensor."""

import torch


def image_to_tensor(pixels) -> torch.Tensor:
    image = torch.as_tensor(pixels)  # [H, W, 3]: nested lists or a uint8 tensor
    # Move the colour axis to the front; permute keeps every pixel's colours together.
    return image.permute(2, 0, 1).to(torch.float32) / 255.0
