"""The file names of a LoRA event adapter folder. Torch-free, so the app can list adapters without
loading torch or peft."""

ADAPTER_FILE = "adapter_model.safetensors"  # peft's
ADAPTER_CONFIG = "adapter_config.json"  # peft's (in the version-1 layout: ours)
EVENT_FILE = "event_embedding.safetensors"
META_FILE = "kronos_adapter.json"
