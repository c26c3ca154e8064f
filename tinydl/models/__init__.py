"""``tinydl.models``: complete models built only from ``tinydl.nn``."""
from .captioning import ShowAttendTell, caption_loss, doubly_stochastic_penalty
from .dcgan import DCGAN, Discriminator, Generator, dcgan_init, gradient_penalty
from .policy import PolicyNetwork
from .unet import UNet
from .vae import VAE
from .faster_rcnn import (Detections, FasterRCNN, MaskHead, RegionProposalNetwork, RoIHead, RoISample, mask_loss,
                          mask_targets, roi_head_loss, rpn_loss)
from .stn import STN, DigitCNN, LocalizationNet, SpatialTransformer
from .yolo import TinyYOLO, YOLOTargets, decode, decode_boxes, encode_targets, yolo_loss
from .seq2seq import Seq2Seq, Seq2SeqDecoder, Seq2SeqEncoder
from .style_transfer import AdaINStyleTransfer, gatys_transfer, gram_matrix
from .dann import DANN, WeightAverage, dann_loss, ddc_loss, lambda_schedule, learning_rate_schedule  # issue 18
from .pix2pix import PatchGANDiscriminator, UNetGenerator, discriminator_loss, gan_loss, l1_loss, receptive_field  # issue 17
from .cyclegan import ImagePool, ResnetGenerator, cycle_consistency_loss, identity_loss  # issue 17
from .fcn_score import FCNScore, fcn_score  # issue 17
