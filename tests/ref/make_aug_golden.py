"""Golden outputs of torchvision's functional image ops for tests/test_augment.c.

Run with Debian's python3 (python3-torchvision):  /usr/bin/python3 tests/ref/make_aug_golden.py
Writes tests/ref/aug_golden.bin (format: tests/ref/golden_io.py). Inputs come
from a seeded torch.Generator, so the file is byte-for-byte reproducible for
a given torch/torchvision version. Everything runs on float32 tensors in
[0, 1] (no PIL, no uint8 rounding), bilinear resizes use antialias=False.
"""
import os
import sys

import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_golden  # noqa: E402

torch.set_num_threads(1)
g = torch.Generator().manual_seed(20260328)


def rand(*shape):
    return torch.rand(*shape, generator=g, dtype=torch.float32)


# A 3-channel 20x24 image with the edge cases hue/saturation care about:
# gray pixels (r = g = b), saturated 0/1 values, ties between max channels.
img3 = rand(3, 20, 24)
img3[:, 0, :6] = img3[0, 0, :6]          # gray pixels
img3[:, 1, 0] = torch.tensor([1.0, 0.0, 0.0])
img3[:, 1, 1] = torch.tensor([0.0, 1.0, 1.0])
img3[:, 1, 2] = torch.tensor([0.5, 0.5, 0.2])  # max tie r = g
img3[:, 1, 3] = torch.tensor([0.3, 0.7, 0.7])  # max tie g = b
img3[:, 1, 4] = torch.tensor([0.0, 0.0, 0.0])
img3[:, 1, 5] = torch.tensor([1.0, 1.0, 1.0])
img1 = rand(1, 28, 28)

T = [("img3", img3), ("img1", img1)]

# resized crop: (top, left, h, w, out_h, out_w), up- and down-sampling, odd sizes
crops3 = [(3, 5, 13, 17, 16, 16), (0, 0, 20, 24, 20, 24), (0, 0, 20, 24, 9, 7),
          (4, 2, 11, 9, 32, 40), (19, 23, 1, 1, 3, 4), (0, 1, 20, 23, 56, 60)]
crops1 = [(2, 3, 20, 17, 28, 28), (0, 0, 28, 28, 14, 14), (5, 5, 6, 6, 28, 28)]
T.append(("crop3_params", torch.tensor(crops3, dtype=torch.int32)))
T.append(("crop1_params", torch.tensor(crops1, dtype=torch.int32)))
for name, img, crops in (("crop3", img3, crops3), ("crop1", img1, crops1)):
    for k, (t, l, h, w, oh, ow) in enumerate(crops):
        out = F.resized_crop(img, t, l, h, w, [oh, ow], InterpolationMode.BILINEAR, antialias=False)
        T.append(("%s_%d" % (name, k), out))

bright = [0.0, 0.6, 1.4, 1.7]
contrast = [0.0, 0.6, 1.4]
sat = [0.0, 0.6, 1.4]
hue = [-0.5, -0.1, 0.05, 0.1, 0.5]
T += [("bright_f", torch.tensor(bright)), ("contrast_f", torch.tensor(contrast)),
      ("sat_f", torch.tensor(sat)), ("hue_f", torch.tensor(hue))]
for k, f in enumerate(bright):
    T.append(("bright3_%d" % k, F.adjust_brightness(img3, f)))
for k, f in enumerate(contrast):
    T.append(("contrast3_%d" % k, F.adjust_contrast(img3, f)))
    T.append(("contrast1_%d" % k, F.adjust_contrast(img1, f)))
for k, f in enumerate(sat):
    T.append(("sat3_%d" % k, F.adjust_saturation(img3, f)))
for k, f in enumerate(hue):
    T.append(("hue3_%d" % k, F.adjust_hue(img3, f)))
T.append(("gray3", F.rgb_to_grayscale(img3, num_output_channels=3)))
T.append(("flip3", F.hflip(img3)))
T.append(("flip1", F.hflip(img1)))

blurs = [(3, 0.5), (5, 1.3), (11, 2.0), (3, 0.1), (7, 1.0)]
T.append(("blur_k", torch.tensor([k for k, _ in blurs], dtype=torch.int32)))
T.append(("blur_s", torch.tensor([s for _, s in blurs], dtype=torch.float32)))
for k, (ks, s) in enumerate(blurs):
    T.append(("blur3_%d" % k, F.gaussian_blur(img3, [ks, ks], [s, s])))
    T.append(("blur1_%d" % k, F.gaussian_blur(img1, [ks, ks], [s, s])))

mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
T.append(("norm3", F.normalize(img3, mean, std)))

# The whole view with given parameters, in GenRep's order:
# crop+resize -> flip -> jitter ops in `order` -> grayscale -> blur -> normalise.
# ints: top, left, h, w, out_h, out_w, flip, order[4], gray, blur, kernel
# floats: brightness, contrast, saturation, hue, sigma, mean[3], std[3]
pipes = [
    ((2, 3, 15, 18, 16, 16, 1, 2, 0, 3, 1, 0, 1, 3), (1.2, 0.7, 1.3, -0.07, 0.8) + tuple(mean) + tuple(std)),
    ((0, 4, 20, 19, 24, 20, 0, 3, 1, 0, 2, 1, 1, 5), (0.8, 1.3, 0.6, 0.09, 1.7) + tuple(mean) + tuple(std)),
    ((1, 1, 12, 12, 28, 28, 1, 1, 3, 2, 0, 0, 0, 3), (1.1, 0.9, 1.0, 0.1, 1.0) + tuple(mean) + tuple(std)),
]


def pipeline(img, ip, fp):
    t, l, h, w, oh, ow, flip, o0, o1, o2, o3, gray, blur, ks = ip
    b, c, s, hu, sigma = fp[:5]
    m, sd = list(fp[5:8]), list(fp[8:11])
    x = F.resized_crop(img, t, l, h, w, [oh, ow], InterpolationMode.BILINEAR, antialias=False)
    if flip:
        x = F.hflip(x)
    for o in (o0, o1, o2, o3):
        if o == 0:
            x = F.adjust_brightness(x, b)
        elif o == 1:
            x = F.adjust_contrast(x, c)
        elif o == 2:
            x = F.adjust_saturation(x, s)
        else:
            x = F.adjust_hue(x, hu)
    if gray:
        x = F.rgb_to_grayscale(x, num_output_channels=x.shape[0])
    if blur:
        x = F.gaussian_blur(x, [ks, ks], [sigma, sigma])
    return F.normalize(x, m[:x.shape[0]], sd[:x.shape[0]])


T.append(("pipe_i", torch.tensor([p[0] for p in pipes], dtype=torch.int32)))
T.append(("pipe_f", torch.tensor([p[1] for p in pipes], dtype=torch.float32)))
for k, (ip, fp) in enumerate(pipes):
    T.append(("pipe3_%d" % k, pipeline(img3, ip, fp)))
    ip1 = list(ip)
    ip1[:6] = [3, 2, 20, 22, 28, 28]
    T.append(("pipe1_%d" % k, pipeline(img1, tuple(ip1), fp)))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "aug_golden.bin")
write_golden(out, T)
print("wrote %s (%d tensors, %d bytes)" % (out, len(T), os.path.getsize(out)))
