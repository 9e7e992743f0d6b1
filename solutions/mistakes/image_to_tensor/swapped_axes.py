"""A typical mistake: permute(2, 1, 0): height and width swapped."""

# must fail: a tall, narrow image keeps its rows and columns (uint8 tensor, 9 x 4 image)
# must fail: the result is a float32 tensor of shape [3, H, W]

import torch


def image_to_tensor(pixels) -> torch.Tensor:
    image = torch.as_tensor(pixels)  # [H, W, 3]: nested lists or a uint8 tensor
    # Move the colour axis to the front; permute keeps every pixel's colours together.
    return image.permute(2, 1, 0).to(torch.float32) / 255.0
