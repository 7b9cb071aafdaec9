"""Training of the transformer backend: MLM pre-training of a small character BERT on the
train split's texts (pretrain.py), multi-task fine-tuning (finetune.py), and the model
folder with its card (train.py). Needs the transformer extra."""
