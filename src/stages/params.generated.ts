// Generated from schemas/stages/*.schema.json by `node dist/src/pipeline/generate-schema.js`: do not edit.
// The params types derived from it are in src/stages/params.ts.
export const stageParamsSchemas = {
  "evaluate": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "batch_size": {
        "type": "integer",
        "default": 256
      },
      "limit": {
        "type": "integer"
      },
      "trigger_shift": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "row": {
            "type": "integer",
            "default": 0
          },
          "col": {
            "type": "integer",
            "default": 0
          }
        }
      },
      "only_correct": {
        "type": "boolean",
        "default": false
      }
    }
  },
  "fetch": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "dataset": {
        "type": "string",
        "enum": [
          "cifar10",
          "synthetic"
        ],
        "default": "cifar10"
      },
      "data_path": {
        "oneOf": [
          {
            "type": "string"
          },
          {
            "type": "array",
            "items": {
              "type": "string"
            }
          }
        ]
      },
      "verify": {
        "type": "boolean",
        "default": true
      },
      "download": {
        "type": "boolean",
        "default": true
      },
      "subset": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "train": {
            "type": "integer"
          },
          "test": {
            "type": "integer"
          },
          "mode": {
            "type": "string",
            "enum": [
              "balanced",
              "first"
            ],
            "default": "balanced"
          }
        }
      },
      "seed": {
        "type": "integer",
        "default": 0
      },
      "synthetic": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "train": {
            "type": "integer",
            "default": 5000
          },
          "test": {
            "type": "integer",
            "default": 1000
          },
          "seed": {
            "type": "integer",
            "default": 0
          },
          "difficulty": {
            "type": "number",
            "default": 0.3
          }
        }
      }
    }
  },
  "neural-cleanse": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "images": {
        "type": "integer",
        "default": 500
      },
      "steps": {
        "type": "integer",
        "default": 30
      },
      "batch_size": {
        "type": "integer",
        "default": 100
      },
      "learning_rate": {
        "type": "number",
        "default": 0.1
      },
      "initial_cost": {
        "type": "number",
        "default": 0.001
      },
      "attack_threshold": {
        "type": "number",
        "default": 0.99
      },
      "patience": {
        "type": "integer",
        "default": 5
      },
      "cost_multiplier": {
        "type": "number",
        "default": 1.5
      },
      "early_stop": {
        "type": "boolean",
        "default": true
      },
      "early_stop_patience": {
        "type": "integer",
        "default": 10
      },
      "anomaly_threshold": {
        "type": "number",
        "default": 2
      },
      "seed": {
        "type": "integer",
        "default": 0
      }
    }
  },
  "one-pixel-search": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "mode": {
        "type": "string",
        "enum": [
          "non-targeted",
          "targeted"
        ],
        "default": "non-targeted"
      },
      "images": {
        "type": "integer",
        "default": 20
      },
      "population": {
        "type": "integer",
        "default": 400
      },
      "generations": {
        "type": "integer",
        "default": 100
      },
      "mutation": {
        "type": "number",
        "default": 0.5
      },
      "early_stop": {
        "type": "boolean",
        "default": true
      },
      "seed": {
        "type": "integer",
        "default": 0
      },
      "batch_size": {
        "type": "integer",
        "default": 256
      },
      "concurrent": {
        "type": "integer",
        "default": 8
      },
      "examples": {
        "type": "integer",
        "default": 8
      }
    }
  },
  "plot": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "formats": {
        "type": "array",
        "items": {
          "type": "string",
          "enum": [
            "svg",
            "png"
          ]
        },
        "minItems": 1,
        "uniqueItems": true,
        "default": [
          "svg",
          "png"
        ]
      },
      "title": {
        "type": "string"
      },
      "x_key": {
        "type": "string"
      },
      "scale": {
        "type": "number",
        "default": 2
      }
    }
  },
  "poison": {
    "definitions": {
      "trigger": {
        "oneOf": [
          {
            "type": "object",
            "additionalProperties": false,
            "required": [
              "row",
              "col",
              "color"
            ],
            "properties": {
              "row": {
                "type": "integer"
              },
              "col": {
                "type": "integer"
              },
              "color": {
                "$ref": "#/definitions/color"
              }
            }
          },
          {
            "type": "object",
            "additionalProperties": false,
            "required": [
              "position",
              "color"
            ],
            "properties": {
              "position": {
                "$ref": "#/definitions/position"
              },
              "color": {
                "$ref": "#/definitions/color"
              }
            }
          },
          {
            "type": "string"
          }
        ]
      },
      "color": {
        "oneOf": [
          {
            "type": "array",
            "items": {
              "type": "integer"
            },
            "minItems": 3,
            "maxItems": 3
          },
          {
            "type": "string",
            "enum": [
              "white",
              "black",
              "red",
              "green",
              "blue",
              "yellow",
              "cyan",
              "magenta"
            ]
          }
        ]
      },
      "position": {
        "type": "string",
        "enum": [
          "top-left",
          "top-right",
          "bottom-left",
          "bottom-right",
          "center"
        ]
      }
    },
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "mode": {
        "type": "string",
        "enum": [
          "all-to-one",
          "all-to-all",
          "per-target"
        ],
        "default": "all-to-one"
      },
      "trigger": {
        "oneOf": [
          {
            "$ref": "#/definitions/trigger"
          },
          {
            "type": "string",
            "enum": [
              "random"
            ]
          }
        ],
        "default": "random"
      },
      "target": {
        "type": "integer",
        "default": 0
      },
      "sources": {
        "type": "array",
        "items": {
          "type": "integer"
        },
        "minItems": 1,
        "uniqueItems": true
      },
      "rate": {
        "type": "number",
        "default": 0.1
      },
      "seed": {
        "type": "integer",
        "default": 0
      },
      "triggers": {
        "oneOf": [
          {
            "type": "string",
            "enum": [
              "random"
            ]
          },
          {
            "type": "array",
            "items": {
              "oneOf": [
                {
                  "$ref": "#/definitions/trigger"
                },
                {
                  "type": "null"
                }
              ]
            },
            "minItems": 10,
            "maxItems": 10
          }
        ],
        "default": "random"
      },
      "contact_sheet": {
        "type": "integer",
        "default": 8
      }
    }
  },
  "test-files": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "write": {
        "type": "object",
        "additionalProperties": {
          "type": "string"
        },
        "default": {}
      },
      "copy_inputs": {
        "type": "boolean",
        "default": true
      },
      "sleep_ms": {
        "type": "integer",
        "default": 0
      },
      "ignore_abort": {
        "type": "boolean",
        "default": false
      },
      "progress_steps": {
        "type": "integer",
        "default": 0
      },
      "print": {
        "type": "string"
      },
      "fail": {
        "type": [
          "boolean",
          "string"
        ],
        "default": false
      },
      "exit_code": {
        "type": [
          "integer",
          "null"
        ],
        "default": null
      },
      "context_file": {
        "type": "string"
      },
      "metrics": {
        "type": "object",
        "default": {}
      }
    }
  },
  "train": {
    "type": "object",
    "additionalProperties": false,
    "required": [
      "model"
    ],
    "properties": {
      "model": {
        "type": "string",
        "enum": [
          "cnn",
          "lenet5",
          "resnet34",
          "vgg16"
        ]
      },
      "width": {
        "type": "number",
        "default": 1
      },
      "epochs": {
        "type": "integer",
        "default": 10
      },
      "batch_size": {
        "type": "integer",
        "default": 64
      },
      "optimizer": {
        "type": "string",
        "enum": [
          "adam",
          "sgd"
        ],
        "default": "adam"
      },
      "learning_rate": {
        "type": "number",
        "default": 0.001
      },
      "momentum": {
        "type": "number",
        "default": 0.9
      },
      "weight_decay": {
        "type": "number",
        "default": 0
      },
      "schedule": {
        "oneOf": [
          {
            "type": "object",
            "additionalProperties": false,
            "required": [
              "type"
            ],
            "properties": {
              "type": {
                "const": "constant"
              }
            }
          },
          {
            "type": "object",
            "additionalProperties": false,
            "required": [
              "type",
              "step_size",
              "gamma"
            ],
            "properties": {
              "type": {
                "const": "step"
              },
              "step_size": {
                "type": "integer"
              },
              "gamma": {
                "type": "number"
              }
            }
          },
          {
            "type": "object",
            "additionalProperties": false,
            "required": [
              "type"
            ],
            "properties": {
              "type": {
                "const": "cosine"
              }
            }
          }
        ],
        "default": {
          "type": "constant"
        }
      },
      "augment": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "crop_padding": {
            "type": "integer",
            "default": 0
          },
          "flip": {
            "type": "boolean",
            "default": false
          }
        },
        "default": {}
      },
      "validation_split": {
        "type": "number",
        "default": 0
      },
      "seed": {
        "type": "integer",
        "default": 0
      },
      "limit": {
        "type": "integer"
      }
    }
  },
  "transfer-retrain": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "fraction": {
        "type": "number",
        "default": 0.1
      },
      "reinit_head": {
        "type": "boolean",
        "default": false
      },
      "freeze_up_to": {
        "type": "string"
      },
      "epochs": {
        "type": "integer",
        "default": 5
      },
      "batch_size": {
        "type": "integer",
        "default": 64
      },
      "optimizer": {
        "type": "string",
        "enum": [
          "adam",
          "sgd"
        ],
        "default": "adam"
      },
      "learning_rate": {
        "type": "number",
        "default": 0.0001
      },
      "momentum": {
        "type": "number",
        "default": 0.9
      },
      "seed": {
        "type": "integer",
        "default": 0
      }
    }
  },
  "unlearn": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "fraction": {
        "type": "number",
        "default": 0.1
      },
      "trigger_fraction": {
        "type": "number",
        "default": 0.2
      },
      "epochs": {
        "type": "integer",
        "default": 2
      },
      "batch_size": {
        "type": "integer",
        "default": 64
      },
      "optimizer": {
        "type": "string",
        "enum": [
          "adam",
          "sgd"
        ],
        "default": "adam"
      },
      "learning_rate": {
        "type": "number",
        "default": 0.0005
      },
      "seed": {
        "type": "integer",
        "default": 0
      }
    }
  },
} as const;
