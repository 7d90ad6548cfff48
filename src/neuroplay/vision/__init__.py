"""Neural art: pretrained VGG features, images, style transfer and Deep Dream."""
