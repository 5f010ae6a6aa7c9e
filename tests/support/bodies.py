"""Reply bodies the fakes send: real error and quota wordings (each with its source) and success bodies.

Most bodies are verbatim from ../shared/reference/providers.md (section numbers below); the quota and credit
wordings and the llama.cpp bodies name their own public source. `fakes.py` re-exports everything here.
"""

# --- §1 OpenAI and compatible servers --------------------------------------------------------------
# §1.2 OpenAI 400s for parameters reasoning models reject
OPENAI_400_TEMPERATURE = {"error": {"message": "Unsupported value: 'temperature' does not support 0.2 with this "
                                    "model. Only the default (1) value is supported.",
                                    "type": "invalid_request_error", "param": "temperature",
                                    "code": "unsupported_value"}}
OPENAI_400_MAX_TOKENS = {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                                   "model. Use 'max_completion_tokens' instead.",
                                   "type": "invalid_request_error", "param": "max_tokens",
                                   "code": "unsupported_parameter"}}
OPENAI_400_STOP = {"error": {"message": "Unsupported parameter: 'stop' is not supported with this model.",
                             "type": "invalid_request_error", "param": "stop", "code": "unsupported_parameter"}}
OPENAI_400_TOP_P = {"error": {"message": "Unsupported parameter: 'top_p' is not supported with this model.",
                              "type": "invalid_request_error", "param": "top_p", "code": "unsupported_parameter"}}
# §1.5
OPENAI_401 = {"error": {"message": "Incorrect API key provided: sk-...abcd. You can find your API key at "
                        "https://platform.openai.com/account/api-keys.", "type": "invalid_request_error",
                        "param": None, "code": "invalid_api_key"}}
# sent when OpenAI-Organization names an org the key is not in: Realiserad/fish-ai#62, microsoft/foundry-dev-tools#262
OPENAI_401_ORG = {"error": {"message": "OpenAI-Organization header should match organization for API key",
                            "type": "invalid_request_error", "param": None, "code": "mismatched_organization"}}
OPENAI_429_TPM = {"error": {"message": "Rate limit reached for gpt-4o-mini in organization org-xxx on tokens per "
                            "min (TPM): Limit 200000, Used 195869, Requested 4412. Please try again in 84ms. "
                            "Visit https://platform.openai.com/account/rate-limits to learn more.",
                            "type": "tokens", "param": None, "code": "rate_limit_exceeded"}}
# quota: ChatGPTNextWeb/NextChat#4101 (2024 capture of api.openai.com)
OPENAI_429_QUOTA = {"error": {"message": "You exceeded your current quota, please check your plan and billing "
                              "details. For more information on this error, read the docs: https://platform.openai"
                              ".com/docs/guides/error-codes/api-errors.", "type": "insufficient_quota",
                              "param": None, "code": "insufficient_quota"}}
OPENAI_500 = {"error": {"message": "The server had an error while processing your request. Sorry about that!",
                        "type": "server_error", "param": None, "code": None}}
# §1.4 compatible servers
VLLM_401 = {"error": "Unauthorized"}
VLLM_400 = {"error": {"message": "This model's maximum context length is 4096 tokens.",
                      "type": "BadRequestError", "param": None, "code": 400}}
VLLM_OLD_FLAT = {"object": "error", "message": "The model `gpt-x` does not exist.", "type": "NotFoundError",
                 "param": None, "code": 404}
OLLAMA_404 = {"error": {"message": "model \"llama9\" not found, try pulling it first",
                        "type": "not_found_error", "param": None, "code": None}}
LLAMACPP_401 = {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}
LLAMACPP_503_LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}


def llamacpp_400_context(n_prompt=4703, n_ctx=4096):
    """llama.cpp's context overflow, byte for byte as a real llama-server sent it (captured here, 2025-12).

    Streamed requests get the same plain JSON 400 (not an SSE event), with `Connection: close`.
    Older servers said "the request exceeds the available context size. try increasing the context size or
    enable context shift" (oobabooga/textgen#7257); the type and the two counts are the same.
    """
    return {"error": {"code": 400, "message": f"request ({n_prompt} tokens) exceeds the available context size "
                      f"({n_ctx} tokens), try increasing it", "type": "exceed_context_size_error",
                      "n_prompt_tokens": n_prompt, "n_ctx": n_ctx}}


LITELLM_429 = {"error": {"message": "No deployments available for selected model.", "type": "None",
                         "param": "None", "code": "429"}}
LITELLM_401 = {"error": {"message": "Authentication Error, Invalid proxy server token passed.",
                         "type": "token_not_found_in_db", "param": "key", "code": "401"}}
LITELLM_400_WRAPPED = {"error": {"message": "litellm.BadRequestError: AnthropicException - b'{\"type\":\"error\","
                                 "\"error\":{\"type\":\"invalid_request_error\",\"message\":\"`temperature` and "
                                 "`top_p` cannot both be specified for this model. Please use only one.\"}}'",
                                 "type": None, "param": None, "code": "400"}}
# older LiteLLM proxies (e.g. 1.81: BerriAI/litellm#22726 wording) answered a spent key budget with 400
LITELLM_400_BUDGET = {"error": {"message": "Budget has been exceeded! Current cost: 10.02, Max budget: 10.0",
                                "type": "budget_exceeded", "param": "None", "code": "400"}}
# newer ones with 429 and param null (BerriAI/litellm#40002, 2026 capture)
LITELLM_429_BUDGET = {"error": {"message": "Budget has been exceeded! Key=e7fbc61f8b495ca3d88994cfa0fda7f12a8134d23f"
                                "1346dccd7a2532dbd61a6d Current cost: 0.0, Estimated request cost: 3.6432300000000004,"
                                " Max budget: 2.5", "type": "budget_exceeded", "param": None, "code": "429"}}
# other OpenAI-compatible providers' spent-credit replies (402 = payment required)
# DeepSeek: Aider-AI/aider#4851 (body, via LiteLLM), continuedev/continue#9942 (status 402)
DEEPSEEK_402_BALANCE = {"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": None,
                                  "code": "invalid_request_error"}}
# OpenRouter: Gitlawb/openclaude#43 (2026)
OPENROUTER_402_CREDITS = {"error": {"message": "Insufficient credits. This account never purchased credits. Make sure "
                                    "your key is on the correct account or org, and if so, purchase more at "
                                    "https://openrouter.ai/settings/credits", "code": 402}}

# --- §2.4 Anthropic ---------------------------------------------------------------------------------
ANTHROPIC_401 = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                 "request_id": "req_011CTfrnTsra8hsUuM24Bz01"}
ANTHROPIC_529 = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
ANTHROPIC_500 = {"type": "error", "error": {"type": "api_error", "message": "Internal server error"},
                 "request_id": "req_011CTfrnTsra8hsUuM24Bz05"}
ANTHROPIC_429 = {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has "
                 "exceeded your per-minute rate limit"}, "request_id": "req_011CTfrnTsra8hsUuM24Bz02"}
ANTHROPIC_400_TEMP_TOP_P = {"type": "error", "error": {"type": "invalid_request_error", "message": "`temperature` "
                            "and `top_p` cannot both be specified for this model. Please use only one."},
                            "request_id": "req_011CTfrnTsra8hsUuM24BzEC"}
ANTHROPIC_400_USAGE_LIMIT = {"type": "error", "error": {"type": "invalid_request_error", "message": "You have "
                             "reached your specified API usage limits. You will regain access on 2025-12-01 at "
                             "00:00 UTC."}, "request_id": "req_011CTfrnTsra8hsUuM24Bz03"}
# a spent prepaid balance is a 400 invalid_request_error, not a 402 or 429: anthropics/claude-quickstarts#229,
# anthropics/claude-code#66314 (2026, with request_id), continuedev/continue#5499
ANTHROPIC_400_CREDIT = {"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance "
                        "is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase "
                        "credits."}, "request_id": "req_011CbrFTcXhtiMzr3s6EocF7"}
# a spent monthly spend threshold is a 429 that only error.details.error_code tells from a rate limit: the shape and
# code are declared by anthropic-sdk-python 2.17.0 (_error_classes.py, types/shared/enforced_spend_limit_reached_
# error_details.py); the message is that file's docstring [unverified as the API's wording]
ANTHROPIC_429_SPEND_LIMIT = {"type": "error", "error": {"type": "rate_limit_error", "message": "The organization has "
                             "crossed the monthly API usage threshold of its API tier.",
                             "details": {"error_code": "enforced_spend_limit_reached"}},
                             "request_id": "req_011CTfrnTsra8hsUuM24Bz06"}
ANTHROPIC_404 = {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-nope"},
                 "request_id": "req_011CTfrnTsra8hsUuM24Bz04"}

# --- §3.4 Gemini --------------------------------------------------------------------------------------
GEMINI_400_KEY = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                            "status": "INVALID_ARGUMENT", "details": [
                                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                 "domain": "googleapis.com",
                                 "metadata": {"service": "generativelanguage.googleapis.com"}},
                                {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                                 "message": "API key not valid. Please pass a valid API key."}]}}


def gemini_429(quota_id="GenerateRequestsPerMinutePerProjectPerModel-FreeTier", delay="20s", limit=5,
               model="gemini-2.5-flash"):
    """The Gemini 429 of §3.4 (wait in the body's RetryInfo); a quotaId with PerDay is a daily quota.

    limit=0 is what a model without a free tier answers on a free key (continuedev/continue#10062, 2026).
    """
    return {"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing "
                      "details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/"
                      "rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. \n* Quota "
                      f"exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
                      f"limit: {limit}, model: {model}\nPlease retry in 20.70617005s.",
                      "status": "RESOURCE_EXHAUSTED", "details": [
                          {"@type": "type.googleapis.com/google.rpc.Help", "links": [
                              {"description": "Learn more about Gemini API quotas",
                               "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
                          {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                              {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                               "quotaId": quota_id, "quotaDimensions": {"model": model, "location": "global"},
                               "quotaValue": str(limit)}]},
                          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}}


def gemini_error(code, status, message):
    """A google.rpc.Status error body without details."""
    return {"error": {"code": code, "message": message, "status": status}}


GEMINI_403 = gemini_error(403, "PERMISSION_DENIED", "Your API key doesn't have the required permissions.")
GEMINI_404 = gemini_error(404, "NOT_FOUND", "models/gemini-nope is not found for API version v1beta, or is not "
                          "supported for generateContent. Call ListModels to see the list of available models "
                          "and their supported methods.")
GEMINI_500 = gemini_error(500, "INTERNAL", "An internal error has occurred. Please retry or report in "
                          "https://developers.generativeai.google/guide/troubleshooting")
GEMINI_503 = gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
GEMINI_400_EMPTY_PARTS = gemini_error(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents[1].parts: "
                                      "contents.parts must not be empty.\n")
# a 429 with no details at all: continuedev/continue#10479, google-gemini/gemini-cli#2020
GEMINI_429_EXHAUSTED = gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
# prepaid billing (2026): every key of the billing account stops at $0 - discuss.ai.google.dev, thread 169215
GEMINI_429_PREPAY = gemini_error(429, "RESOURCE_EXHAUSTED", "Your prepayment credits are depleted. Please go to AI "
                                 "Studio at https://ai.studio/projects to manage your project and billing. Learn more "
                                 "at https://ai.google.dev/gemini-api/docs/billing#prepay. ")

# --- §5.8 proxies -------------------------------------------------------------------------------------
CLOUDFLARE_524 = ("<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>api.cborg.lbl.gov | 524: A timeout "
                  "occurred</title></head><body><div id=\"cf-wrapper\"><h1>A timeout occurred</h1><span>Error "
                  "code 524</span></div></body></html>")
NGINX_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
             "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")

# --- success bodies -----------------------------------------------------------------------------------


def openai_completion(content="Paris.", model="gpt-5-mini-2025-08-07", finish="stop", prompt=21, completion=75,
                      reasoning=64, cached=0, details=True, usage=True, extra_message=None, **top):
    """A chat.completion body (§1.3); details=False gives the 3 basic counts only (Ollama)."""
    body = {"id": "chatcmpl-CZ1xq7lS8wWfq0nq3Wf2bYk3mAbcd", "object": "chat.completion", "created": 1762300000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                                 "annotations": [], **(extra_message or {})},
                         "logprobs": None, "finish_reason": finish}],
            "service_tier": "default", "system_fingerprint": None, **top}
    if usage:
        body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                         "total_tokens": prompt + completion}
        if details:
            body["usage"]["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
            body["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                                          "accepted_prediction_tokens": 0,
                                                          "rejected_prediction_tokens": 0}
    return body


def llamacpp_completion(content="Paris.", reasoning=None, model="/models/qwen2.5-coder-1.5b-instruct.gguf",
                        finish="stop", prompt=21, completion=11, cached=0):
    """llama-server's chat.completion, field for field as captured from a real one (2025-12): no refusal,
    annotations or logprobs; the model is the file path; `timings` at the top level."""
    message = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {"choices": [{"finish_reason": finish, "index": 0, "message": message}], "created": 1796606141,
            "model": model, "system_fingerprint": "b0-unknown", "object": "chat.completion",
            "usage": {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": cached}},
            "id": "chatcmpl-HLmiLkhTa8hRyPwXeUUxPyAKQjHmkL77", "timings": llamacpp_timings(prompt, completion, cached)}


def llamacpp_timings(prompt=21, completion=11, cached=0):
    """The `timings` object llama-server adds to its last reply (speeds of a 2-core CPU)."""
    return {"cache_n": cached, "prompt_n": prompt - cached, "prompt_ms": 6804.215, "prompt_per_token_ms": 212.63,
            "prompt_per_second": 4.70, "predicted_n": completion, "predicted_ms": 36651.754,
            "predicted_per_token_ms": 1409.68, "predicted_per_second": 0.709}


def anthropic_message(text="Paris.", model="claude-sonnet-4-5-20250929", stop="end_turn", thinking=None,
                      redacted=False, input_tokens=14, output_tokens=5, cache_read=0, cache_write=0):
    """A Messages body (§2.3), optionally with thinking / redacted_thinking blocks before the text."""
    content = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking, "signature": "EqQBCkgIBxAC"})
    if redacted:
        content.append({"type": "redacted_thinking", "data": "EmwKAhgBEgy"})
    if text is not None:
        content.append({"type": "text", "text": text})
    return {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_write,
                      "cache_read_input_tokens": cache_read,
                      "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
                      "output_tokens": output_tokens, "service_tier": "standard"}}


def gemini_response(text="Paris.", thought=None, finish="STOP", model="gemini-2.5-flash", prompt=8, candidates=2,
                    thoughts=57, cached=None, parts=True):
    """A GenerateContentResponse (§3.3); thought adds a thought=true part; parts=False drops 'parts'."""
    content = {"role": "model"}
    if parts:
        content["parts"] = ([{"text": thought, "thought": True}] if thought else []) + \
            ([{"text": text}] if text is not None else [])
    meta = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates + (thoughts or 0),
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thoughts is not None:
        meta["thoughtsTokenCount"] = thoughts
    if cached is not None:
        meta["cachedContentTokenCount"] = cached
    return {"candidates": [{"content": content, "finishReason": finish, "index": 0}], "usageMetadata": meta,
            "modelVersion": model, "responseId": "3w4Vad6yF-y1vdIP_q_zgAw"}


# --- empty 200s: the server's fault, not the model's (providers.md §5.2, issue 13 item 2) ----------
OPENAI_200_NO_CHOICES = {**openai_completion(), "choices": []}
OPENAI_200_NULL_CONTENT = openai_completion(None, completion=12, reasoning=0)    # finish "stop", content null
ANTHROPIC_200_EMPTY = anthropic_message(None, output_tokens=3)                   # content [], end_turn
GEMINI_200_NO_CANDIDATES = {"candidates": [], "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
                            "modelVersion": "gemini-2.5-flash", "responseId": "3w4Vad6yF-y1vdIP_q_zgAw"}
