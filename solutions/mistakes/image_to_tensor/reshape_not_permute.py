"""A typical mistake: reshape(3, H, W) instead of permute(2, 0, 1): the colours are mixed up."""

# must fail: each channel holds one colour of every pixel (uint8 tensor, a 12 x 16 picture)

import torch


def image_to_tensor(pixels) -> torch.Tensor:
    image = torch.as_tensor(pixels)  # [H, W, 3]: nested lists or a uint8 tensor
    # Move the colour axis to the front; permute keeps every pixel's colours together.
    return image.reshape(3, image.shape[0], image.shape[1]).to(torch.float32) / 255.0
