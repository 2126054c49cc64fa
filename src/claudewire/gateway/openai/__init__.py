"""The gateway's OpenAI-compatible ingress: routes, translation onto the call flow, answers and the model list.

`OpenAIIngress` (``ingress``) answers ``/v1/chat/completions``, ``/v1/responses``, ``/v1/models``, ``/cursor/*`` and
Azure's ``/openai/deployments/{name}/chat/completions``; `OpenAISettings` (``settings``) is the ``[openai]`` section.
It sits at the gateway's top level: it may use dialects, the call record and both floors.
"""
