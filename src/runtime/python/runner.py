# The Python side of a Tiller interpreter (interpreter.mjs loads this file as the module
# `_tiller_runner` before any user code). It loads one transformation version with its libraries,
# runs batches of events through it, and writes each batch's answer in the same wire format as the
# JavaScript runner (bootstrap.ts; decoded by contract.ts):
#
#   `${len(header)}:${header}${body}`, header = comma-separated integers
#     kind, logCount, logsDropped, logLength * logCount, (index, status, length) *
#
# Lengths count UTF-16 code units, as JavaScript strings do. Output events are serialized with
# ensure_ascii, so their text is ASCII and len() is exact; logs and error messages are measured.
#
# User code shares this interpreter and can replace anything in it, this module included; an
# interpreter holds one version only, so that garbles only that version's own answers, and the host
# holds every answer to the contract before it leaves the sandbox host (contract.ts).

import builtins
import json
import linecache
import sys
import traceback
import types

KIND_EVENTS = 0
KIND_BATCH = 1
KIND_BATCH_THREW = 2
KIND_BATCH_INVALID = 3
KIND_OUTPUT_LIMIT = 4
KEPT = 200
FAILED = 400
DROPPED = 204
ENTRY_ERROR_PREFIX = 'TillerEntryError:'
MAX_FRAMES = 10

_config = {
    'maxLogLines': 1000,
    'maxLogChars': 65536,
    'maxErrorChars': 2000,
    'maxOutputChars': 16 * 1024 * 1024,
    'maxOutputsPerEvent': 100,
    'maxOutputDepth': 1000,
    'outputSizeMessage': 'the batch output is too large',
    'outputCountMessage': 'too many output events for one input event',
}
_host_call = None
_user_files = set()
_entry = None
_entry_kind = None

# Per-batch state, reset by run().
_logs = []
_log_chars = 0
_logs_dropped = 0
_capturing = False
_metadata_by_id = {}
_metadata_by_message_id = {}
_metadata_list = None
_metadata_json = None
_credentials = None
_credentials_json = None
_in_batch = False

_dumps = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(',', ':'), check_circular=True).encode
_loads = json.loads


def configure(config_json, host_call):
    global _host_call
    _config.update(_loads(config_json))
    _host_call = host_call


def _u16len(text):
    if text.isascii():
        return len(text)
    return len(text.encode('utf-16-le', 'surrogatepass')) // 2


def _truncate(text, limit=None):
    limit = _config['maxErrorChars'] if limit is None else limit
    if len(text) <= limit:
        return text
    return text[:limit] + '\u2026'


# --- logging -----------------------------------------------------------------------------------

def _describe(value):
    if isinstance(value, str):
        return value
    if isinstance(value, BaseException):
        return f'{type(value).__name__}: {value}'
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except Exception:
        return repr(value)


def _record(line):
    global _log_chars, _logs_dropped
    if not _capturing:
        return
    if len(_logs) >= _config['maxLogLines'] or _log_chars + len(line) > _config['maxLogChars']:
        _logs_dropped += 1
        return
    _log_chars += len(line)
    _logs.append(line)


def log(*args):
    """Records one log line: the arguments joined by spaces, strings as they are, others as JSON."""
    _record(' '.join(_describe(a) for a in args))


class _PrintCapture:
    """sys.stdout and sys.stderr while user code runs: each printed line becomes a log line."""

    def __init__(self):
        self._pending = ''

    def write(self, text):
        text = str(text)
        self._pending += text
        while '\n' in self._pending:
            line, self._pending = self._pending.split('\n', 1)
            _record(line)
        return len(text)

    def flush(self):
        if self._pending:
            _record(self._pending)
            self._pending = ''

    def isatty(self):
        return False


_stdout = _PrintCapture()


# --- capabilities (spec 7.5) -------------------------------------------------------------------

def metadata(event):
    """The metadata rudder-server sent with this event (matched by identity, then messageId), else {}."""
    global _metadata_list
    found = _metadata_by_id.get(id(event))
    index = found[1] if found is not None and found[0] is event else None
    if index is None and isinstance(event, dict):
        index = _metadata_by_message_id.get(_message_id(event))
    if index is None:
        return {}
    if _metadata_list is None:
        _metadata_list = _loads(_metadata_json) if _metadata_json else []
    entry = _metadata_list[index] if index < len(_metadata_list) else None
    return entry if isinstance(entry, dict) else {}


def getCredential(key):
    """The workspace credential named key (spec 7.5), or None."""
    global _credentials
    if key is None:
        raise TypeError('Key should be valid and defined')
    if not _in_batch:
        return None
    if _credentials is None:
        _credentials = _loads(_credentials_json) if _credentials_json else {}
    return _credentials.get(str(key))


class FetchError(Exception):
    """fetchV2 or geolocation failed: the message says why (blocked address, timeout, too large, ...)."""


def _call(op, payload):
    """One capability call through the host (host/capabilities.ts, which counts and checks it):
    'o' + answer, or 'e' + a message the user can act on."""
    if not _in_batch:
        return f'e{op} is not available in top-level module code'
    return str(_host_call(op, payload))


def _request(url, init):
    if not isinstance(url, str):
        raise TypeError(f'url must be a string, got {_describe_type(url)}')
    init = init or {}
    if not isinstance(init, dict):
        raise TypeError('init must be a dict')
    request = {'url': url}
    for key in ('method', 'body'):
        if init.get(key) is not None:
            if not isinstance(init[key], str):
                raise TypeError(f'init["{key}"] must be a string (json.dumps a dict first)')
            request[key] = init[key]
    headers = init.get('headers')
    if headers is not None:
        if not isinstance(headers, dict):
            raise TypeError('init["headers"] must be a dict of strings')
        request['headers'] = {str(k): str(v) for k, v in headers.items()}
    return json.dumps(request)


def _parsed(text):
    try:
        return _loads(text)
    except Exception:
        return text


def _response(answer):
    newline = answer.index('\n')
    return _loads(answer[1:newline]), answer[newline + 1:]


def fetch(url, init=None):
    """RudderStack's fetch: the response body (parsed as JSON when it parses, else text), or "ERROR"."""
    try:
        answer = _call('fetch', _request(url, init))
    except TypeError:
        return 'ERROR'
    if not answer.startswith('o'):
        return 'ERROR'
    return _parsed(_response(answer)[1])


def fetchV2(url, init=None):
    """RudderStack's fetchV2: {status, url, headers, body}; raises FetchError with the reason."""
    answer = _call('fetchV2', _request(url, init))
    if not answer.startswith('o'):
        raise FetchError(answer[1:])
    head, body = _response(answer)
    return {'status': head['status'], 'url': head['url'], 'headers': head['headers'], 'body': _parsed(body)}


def geolocation(ip):
    """The geolocation record of an IP address, None when the database has none; raises FetchError."""
    if not isinstance(ip, str):
        raise TypeError(f'geolocation needs an IP address string, got {_describe_type(ip)}')
    if len(ip) > 64:
        raise TypeError('invalid ip address: longer than 64 characters')
    answer = _call('geolocation', ip)
    if not answer.startswith('o'):
        raise FetchError(answer[1:])
    return _loads(answer[1:])


# --- loading -----------------------------------------------------------------------------------

_HELPERS = {
    'log': log,
    'metadata': metadata,
    'getCredential': getCredential,
    'fetch': fetch,
    'fetchV2': fetchV2,
    'geolocation': geolocation,
    'FetchError': FetchError,
}


def _user_traceback(error):
    """Python's traceback of a user error with only the user's own frames (at most MAX_FRAMES)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename in _user_files]
    lines = ''.join(traceback.format_list(frames[-MAX_FRAMES:]))
    head = 'Traceback (most recent call last):\n' + lines if frames else ''
    return head + ''.join(traceback.format_exception_only(type(error), error)).rstrip('\n')


def _describe_user_error(error):
    return _truncate(_user_traceback(error))


def _module(name, filename, code):
    _user_files.add(filename)
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    module.__dict__.update(_HELPERS)
    compiled = compile(code, filename, 'exec', dont_inherit=True)
    return module, compiled


def load(spec_json):
    """Loads one version: its libraries as importable modules, then the transformation. Returns
    '' on success, else JSON {code, message} (link_error or code_error)."""
    global _entry, _entry_kind
    spec = _loads(spec_json)
    # Module code may print; it is not recorded (as in the JavaScript runner).
    sys.stdout = sys.stderr = _stdout
    try:
        for library in spec['libraries']:
            module, compiled = _module(library['importName'], library['name'], library['code'])
            sys.modules[library['importName']] = module
            exec(compiled, module.__dict__)
        transformation = spec['transformation']
        module, compiled = _module('transformation', transformation['name'], transformation['code'])
        exec(compiled, module.__dict__)
    except SyntaxError as error:
        return json.dumps({'code': 'code_error', 'message': _truncate(f'SyntaxError: {error.msg} ({error.filename}, line {error.lineno})')})
    except BaseException as error:
        return json.dumps({'code': 'code_error', 'message': _truncate('top-level code threw ' + _user_traceback(error))})
    finally:
        _stdout.flush()
    event_fn = module.__dict__.get('transformEvent')
    batch_fn = module.__dict__.get('transformBatch')
    has_event, has_batch = callable(event_fn), callable(batch_fn)
    if has_event and has_batch:
        return json.dumps({'code': 'code_error', 'message': 'the module defines both transformEvent and transformBatch; define exactly one'})
    if not has_event and not has_batch:
        return json.dumps({'code': 'code_error', 'message': 'the module must define a function named transformEvent or transformBatch'})
    _entry, _entry_kind = (event_fn, KIND_EVENTS) if has_event else (batch_fn, KIND_BATCH)
    return ''


# --- running -----------------------------------------------------------------------------------

def _message_id(event):
    value = event.get('messageId')
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


def _depth_exceeds(value, limit):
    """Whether value nests deeper than limit containers (MAX_OUTPUT_DEPTH in bootstrap.ts)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values() if isinstance(child, (dict, list, tuple)))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list, tuple)))
    return False


def _output_json(value):
    text = _dumps(value)
    if len(text) > 2 * _config['maxOutputDepth'] and _depth_exceeds(value, _config['maxOutputDepth']):
        raise ValueError(f'it nests deeper than the limit of {_config["maxOutputDepth"]} levels')
    return text


def _describe_type(value):
    if value is None:
        return 'None'
    return f'a {type(value).__name__}'


def _describe_thrown(error):
    return _truncate(f'{type(error).__name__}: {error}')


class _OutputLimit(Exception):
    pass


def _finish(kind, header, body):
    _stdout.flush()
    log_header = [str(kind), str(len(_logs)), str(_logs_dropped)]
    log_header.extend(str(_u16len(line)) for line in _logs)
    text = ','.join(log_header) + ',' + header
    return f'{len(text)}:{text}' + ''.join(_logs) + body


def _fail_batch(kind, message):
    message = _truncate(message)
    return _finish(kind, f'-1,400,{_u16len(message)},', message)


def _run_events(events):
    header = []
    body = []
    size = 0
    max_chars = _config['maxOutputChars']
    max_outputs = _config['maxOutputsPerEvent']
    for i, event in enumerate(events):
        failure = None
        try:
            value = _entry(event, metadata)
        except BaseException as error:
            value = None
            failure = _describe_user_error(error)
        if failure is None:
            if value is None or (isinstance(value, list) and len(value) == 0):
                header.append(f'{i},204,0,')
                continue
            if isinstance(value, (dict, list)):
                # A dict is one output; a list fans out. Either way every output is a dict.
                single = isinstance(value, dict)
                outputs = [value] if single else value
                if len(outputs) > max_outputs:
                    raise _OutputLimit(_config['outputCountMessage'])
                texts = []
                for j, element in enumerate(outputs):
                    if not isinstance(element, dict):
                        failure = f'transformEvent returned a list whose element {j} is {_describe_type(element)}; every element must be a dict'
                        break
                    try:
                        texts.append(_output_json(element))
                    except BaseException as error:
                        which = 'output event' if single else f'output event {j}'
                        failure = f'{which} is not serializable as JSON: ' + _describe_thrown(error)
                        break
                if failure is None:
                    for text in texts:
                        header.append(f'{i},200,{len(text)},')
                        body.append(text)
                        size += len(text)
                    if size > max_chars:
                        raise _OutputLimit(_config['outputSizeMessage'])
                    continue
            else:
                failure = f'transformEvent returned {_describe_type(value)}; expected a dict, a list of dicts or None'
        failure = _truncate(failure)
        header.append(f'{i},400,{_u16len(failure)},')
        body.append(failure)
    return _finish(KIND_EVENTS, ''.join(header), ''.join(body))


def _run_batch(events):
    try:
        output = _entry(events, metadata)
    except BaseException as error:
        return _fail_batch(KIND_BATCH_THREW, _describe_user_error(error))
    if not isinstance(output, list):
        return _fail_batch(KIND_BATCH_INVALID, f'transformBatch returned {_describe_type(output)}; expected a list of dicts')
    if len(output) > _config['maxOutputsPerEvent'] * max(1, len(events)):
        raise _OutputLimit(_config['outputCountMessage'])
    by_identity = {id(event): i for i, event in enumerate(events)}
    by_message_id = None
    header = []
    body = []
    size = 0
    for j, element in enumerate(output):
        if not isinstance(element, dict):
            failure = _truncate(f'transformBatch returned a list whose element {j} is {_describe_type(element)}; every element must be a dict')
            header.append(f'{j},400,{_u16len(failure)},')
            body.append(failure)
            continue
        try:
            text = _output_json(element)
        except BaseException as error:
            failure = _truncate(f'output event {j} is not serializable as JSON: ' + _describe_thrown(error))
            header.append(f'{j},400,{_u16len(failure)},')
            body.append(failure)
            continue
        # An output traces back to its input by identity, else by messageId, else by its position.
        index = by_identity.get(id(element))
        if index is None or events[index] is not element:
            index = None
            message_id = _message_id(element)
            if message_id is not None:
                if by_message_id is None:
                    by_message_id = {}
                    for i, event in enumerate(events):
                        by_message_id.setdefault(_message_id(event), i)
                index = by_message_id.get(message_id)
            if index is None:
                index = j
        header.append(f'{index},200,{len(text)},')
        body.append(text)
        size += len(text)
        if size > _config['maxOutputChars']:
            raise _OutputLimit(_config['outputSizeMessage'])
    return _finish(KIND_BATCH, ''.join(header), ''.join(body))


def run(events_json, metadata_json, capture_logs, credentials_json):
    """Runs one batch; returns its answer in the wire format."""
    global _logs, _log_chars, _logs_dropped, _capturing, _metadata_by_id, _metadata_by_message_id
    global _metadata_list, _metadata_json, _credentials, _credentials_json, _in_batch
    _logs, _log_chars, _logs_dropped, _capturing = [], 0, 0, bool(capture_logs)
    _metadata_list, _metadata_json = None, metadata_json
    _credentials, _credentials_json = None, credentials_json
    events = _loads(events_json)
    _metadata_by_id = {id(event): (event, i) for i, event in enumerate(events)}
    _metadata_by_message_id = {}
    for i, event in enumerate(events):
        if isinstance(event, dict):
            _metadata_by_message_id.setdefault(_message_id(event), i)
    _metadata_by_message_id.pop(None, None)
    sys.stdout = sys.stderr = _stdout
    _in_batch = True
    try:
        if _entry_kind == KIND_EVENTS:
            return _run_events(events)
        return _run_batch(events)
    except _OutputLimit as limit:
        return _fail_batch(KIND_OUTPUT_LIMIT, str(limit))
    finally:
        _in_batch = False
        _metadata_by_id = {}
        _credentials = None


# --- save-time analysis (no user code runs) ----------------------------------------------------

def analyze(code, kind):
    """Compiles code without running it: syntax errors with line and column, the entry point, and
    the imports that are not standard-library modules (libraries)."""
    import ast
    try:
        tree = compile(code, kind, 'exec', flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        compile(tree, kind, 'exec', dont_inherit=True)
    except SyntaxError as error:
        message = f'SyntaxError: {error.msg}'
        result = {'ok': False, 'error': {'code': 'compile_error', 'message': message}}
        if error.lineno is not None:
            result['error']['line'] = error.lineno
        if error.offset is not None:
            result['error']['column'] = error.offset
        return json.dumps(result)
    except (ValueError, MemoryError, RecursionError) as error:
        return json.dumps({'ok': False, 'error': {'code': 'compile_error', 'message': f'{type(error).__name__}: {error}'}})
    stdlib = sys.stdlib_module_names
    imports = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split('.')[0]
            if top not in stdlib and top not in imports:
                imports.append(top)
    functions = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assigned = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            if isinstance(target, ast.Name):
                assigned.add(target.id)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assigned.update((alias.asname or alias.name).split('.')[0] for alias in node.names)
    defined = functions | assigned
    entry = None
    if kind == 'transformation':
        has_event, has_batch = 'transformEvent' in defined, 'transformBatch' in defined
        if has_event and has_batch:
            return json.dumps({'ok': False, 'error': {'code': 'multiple_entry_points', 'message': 'the module defines both transformEvent and transformBatch; define exactly one'}})
        if not has_event and not has_batch:
            return json.dumps({'ok': False, 'error': {'code': 'missing_entry_point', 'message': 'the module must define a function named transformEvent or transformBatch'}})
        entry = 'transformEvent' if has_event else 'transformBatch'
    elif imports:
        return json.dumps({'ok': False, 'error': {'code': 'library_imports_not_allowed', 'message': f'a library may import only the standard library; it imports "{imports[0]}"'}})
    return json.dumps({'ok': True, 'entry': entry, 'imports': imports})
