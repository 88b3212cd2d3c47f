//! Zero-copy access to Python byte buffers, and uninitialised output
//! `bytes` objects that Rust fills in while the GIL is released.

use std::mem::MaybeUninit;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple, PyType};

use animica_core::hash::{Digest, DigestSlot};

use crate::error::InvalidInput;

/// A read-only view of a C-contiguous buffer (`bytes`, `bytearray`,
/// `memoryview`, `mmap`, `array.array`, numpy arrays...). No copy is made.
/// `bytes` skips the buffer protocol, which matters for small inputs.
pub(crate) struct ByteView<'py> {
    _owner: Bound<'py, PyAny>,
    view: Option<Box<ffi::Py_buffer>>,
    ptr: *const u8,
    len: usize,
}

impl<'py> ByteView<'py> {
    pub(crate) fn new(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            let s = b.as_bytes();
            return Ok(ByteView { _owner: obj.clone(), view: None, ptr: s.as_ptr(), len: s.len() });
        }
        let mut view: Box<MaybeUninit<ffi::Py_buffer>> = Box::new(MaybeUninit::zeroed());
        // SAFETY: `obj` is a live object and `view` points to writable memory
        // of the right size; on success CPython fills it and we own one
        // export, released exactly once in Drop.
        let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_STRIDES) };
        if rc != 0 {
            let err = PyErr::fetch(obj.py());
            return Err(if err.is_instance_of::<pyo3::exceptions::PyBufferError>(obj.py()) {
                InvalidInput::new_err(format!("{}: {}", obj.get_type().name()?, err.value(obj.py())))
            } else {
                PyTypeError::new_err(format!("a bytes-like object is required, not '{}'", obj.get_type().name()?))
            });
        }
        // SAFETY: PyObject_GetBuffer succeeded, so the view is initialised.
        let view: Box<ffi::Py_buffer> = unsafe { Box::from_raw(Box::into_raw(view).cast()) };
        let mut this =
            ByteView { _owner: obj.clone(), ptr: view.buf as *const u8, len: view.len as usize, view: Some(view) };
        let contiguous = this.view.as_mut().is_some_and(|v| {
            // SAFETY: `v` is the live view obtained above.
            unsafe { ffi::PyBuffer_IsContiguous(&**v, b'C' as std::ffi::c_char) == 1 }
        });
        if !contiguous {
            return Err(InvalidInput::new_err(format!(
                "{} is not C-contiguous; pass a contiguous copy (e.g. bytes(x))",
                obj.get_type().name()?
            )));
        }
        if this.len == 0 {
            this.ptr = std::ptr::NonNull::<u8>::dangling().as_ptr();
        }
        Ok(this)
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr`/`len` describe memory owned by `_owner` and kept
        // alive (and, for buffer exporters, pinned against resizing) by the
        // export we hold until Drop. A zero length uses a dangling,
        // well-aligned pointer as `from_raw_parts` requires.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for ByteView<'_> {
    fn drop(&mut self) {
        if let Some(view) = self.view.as_mut() {
            // SAFETY: we hold exactly one export obtained by
            // PyObject_GetBuffer, and 'py proves we are attached.
            unsafe { ffi::PyBuffer_Release(&mut **view) };
        }
    }
}

/// An item of a list read in place ([`list_in_place`]), not yet known to
/// be anything.
#[cfg(not(Py_GIL_DISABLED))]
#[repr(transparent)]
pub(crate) struct ListItem(*mut ffi::PyObject);

/// An item of a list read in place, known to be a `bytes` object
/// ([`ListItem::as_bytes`]).
#[cfg(not(Py_GIL_DISABLED))]
#[repr(transparent)]
pub(crate) struct BytesItem(*mut ffi::PyObject);

// SAFETY: ListItems and BytesItems are only ever seen through
// `list_in_place`, whose caller keeps the list, and so a reference to each
// object, unchanged for as long as the borrow lasts. Reading an object's
// type, and the size and data pointer of a `bytes` (whose contents never
// change), touches no interpreter state, so any thread may read them,
// attached or not.
#[cfg(not(Py_GIL_DISABLED))]
unsafe impl Sync for ListItem {}
// SAFETY: as for ListItem.
#[cfg(not(Py_GIL_DISABLED))]
unsafe impl Sync for BytesItem {}

#[cfg(not(Py_GIL_DISABLED))]
impl ListItem {
    /// `items` as `bytes` objects, when every one is a `bytes` (or a
    /// subclass); `None` otherwise.
    pub(crate) fn as_bytes(items: &[ListItem]) -> Option<&[BytesItem]> {
        // SAFETY: each pointer is a live object (see the Sync impl).
        items.iter().all(|i| unsafe { ffi::PyBytes_Check(i.0) } != 0).then(|| {
            // SAFETY: BytesItem and ListItem are both transparent wrappers
            // of an item pointer; every one was just found to be a `bytes`.
            unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<BytesItem>(), items.len()) }
        })
    }

    /// A new reference to the item.
    ///
    /// # Safety
    /// The caller holds the interpreter, and the item is still alive
    /// (see [`list_in_place`]).
    pub(crate) unsafe fn hold<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: the caller's promise.
        unsafe { Bound::from_borrowed_ptr(py, self.0) }
    }
}

#[cfg(not(Py_GIL_DISABLED))]
impl AsRef<[u8]> for BytesItem {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: see the Sync impl; the object is a live `bytes` (checked
        // by `ListItem::as_bytes`), so AS_STRING/Py_SIZE describe its
        // immutable contents.
        unsafe { std::slice::from_raw_parts(ffi::PyBytes_AS_STRING(self.0).cast(), ffi::Py_SIZE(self.0) as usize) }
    }
}

/// The items of `list` read in place, without the snapshot a [`Batch`]
/// takes; whether each is a `bytes` is for the reader to check
/// ([`ListItem::as_bytes`]), a part at a time, on the thread that hashes
/// it. Measured on a million 64-byte items (AMD Zen 5): the snapshot's
/// references cost 10 ms of a 52 ms `sha256_many`, as much as the hashing
/// that overlaps it; and a check of every item's type on the calling
/// thread before the hashing, 1.7-3.6 ms (a cache miss an item).
///
/// # Safety
/// Until the slice is dropped, the caller stays attached to the
/// interpreter (which holds the GIL) and runs no Python code: no call
/// that could start the garbage collector, run a finalizer or a signal
/// handler, or let another thread in. So no code can change `list`, and
/// its items stay alive. Builds without the GIL cannot promise this.
#[cfg(not(Py_GIL_DISABLED))]
pub(crate) unsafe fn list_in_place<'a>(list: &'a Bound<'_, PyList>) -> &'a [ListItem] {
    // SAFETY: the caller keeps the list unchanged meanwhile.
    let items = unsafe { list_items(list) };
    // SAFETY: ListItem is a transparent wrapper of an item pointer.
    unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<ListItem>(), items.len()) }
}

/// The contents of a batch's items, borrowed from the objects its tuple
/// keeps alive.
type Contents = Vec<&'static [u8]>;
/// A batch's tuple and, when every item is a `bytes`, their contents.
type Pinned<'py> = (Bound<'py, PyTuple>, Option<Contents>);

/// The contents of `item` when it is a `bytes` (or a subclass).
///
/// # Safety
/// `item` is a live object that stays alive as long as the slice is used.
unsafe fn bytes_slice(item: *mut ffi::PyObject) -> Option<&'static [u8]> {
    // SAFETY: a live object (the caller's promise); a `bytes` is immutable,
    // so its size and contents stay as read here.
    unsafe {
        (ffi::PyBytes_Check(item) != 0)
            .then(|| std::slice::from_raw_parts(ffi::PyBytes_AS_STRING(item).cast::<u8>(), ffi::Py_SIZE(item) as usize))
    }
}

/// The contents of every item of `items` when each is a `bytes`, read in
/// one pass; `None` at the first that is not.
///
/// # Safety
/// `items` are live objects that stay alive, unchanged, as long as the
/// returned slices are used: a tuple's items, the tuple kept alive.
unsafe fn bytes_contents(items: &[*mut ffi::PyObject]) -> Option<Contents> {
    // SAFETY: the caller's promise, item by item.
    items.iter().map(|&item| unsafe { bytes_slice(item) }).collect()
}

/// The item pointers of `tuple`.
fn tuple_items<'a>(tuple: &'a Bound<'_, PyTuple>) -> &'a [*mut ffi::PyObject] {
    // SAFETY: a tuple's `ob_item` holds `len()` item pointers, alive as long
    // as the tuple.
    unsafe {
        std::slice::from_raw_parts(
            (*tuple.as_ptr().cast::<ffi::PyTupleObject>()).ob_item.as_ptr().cast::<*mut ffi::PyObject>(),
            tuple.len(),
        )
    }
}

/// The item pointers of `list`, as they are now.
///
/// # Safety
/// Until the slice is dropped, nothing changes `list` (see
/// [`list_in_place`]): its item array and the items stay alive.
#[cfg(not(Py_GIL_DISABLED))]
unsafe fn list_items<'a>(list: &'a Bound<'_, PyList>) -> &'a [*mut ffi::PyObject] {
    match list.len() {
        0 => &[], // `ob_item` is NULL then
        // SAFETY: a list's `ob_item` holds `len()` live item pointers; the
        // caller keeps the list unchanged meanwhile.
        n => unsafe { std::slice::from_raw_parts((*list.as_ptr().cast::<ffi::PyListObject>()).ob_item, n) },
    }
}

/// A new tuple of `n` empty (NULL) slots, for [`hold`] to fill. A tuple
/// dropped with slots still NULL releases only the others. Making it may
/// run the collector, and so finalizers.
#[cfg(not(Py_GIL_DISABLED))]
fn slots_tuple(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyTuple>> {
    // SAFETY: PyTuple_New returns a new tuple, or NULL with an exception set.
    let tuple = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyTuple_New(n as ffi::Py_ssize_t)) }?;
    // SAFETY: PyTuple_New returned a tuple.
    Ok(unsafe { tuple.cast_into_unchecked::<PyTuple>() })
}

/// Gives slot `i` of `tuple` (from [`slots_tuple`]) a new reference to
/// `item`, which the tuple then keeps alive.
///
/// # Safety
/// `item` is a live object; slot `i` exists and is still empty (NULL).
/// No Python code runs here.
#[cfg(not(Py_GIL_DISABLED))]
unsafe fn hold(tuple: &Bound<'_, PyTuple>, i: usize, item: *mut ffi::PyObject) {
    // SAFETY: the caller's promise.
    unsafe {
        ffi::Py_INCREF(item);
        ffi::PyTuple_SET_ITEM(tuple.as_ptr(), i as ffi::Py_ssize_t, item);
    }
}

/// A tuple of the items of `list`, as `PyList_AsTuple` makes it but safe
/// against the collector: on CPython up to 3.11 making the tuple can run a
/// collection, and a finalizer that changes the list then left
/// `PyList_AsTuple` copying from the freed item array (a crash, found by
/// `test_large_list_changed_by_another_thread_or_a_finalizer`). Here the
/// list is read only after the tuple exists, and nothing runs between.
/// With it, when every item is a `bytes`, their contents: the same pass
/// reads each item's header once, where the snapshot, a type check and the
/// contents were three passes, each a cache miss an item over scattered
/// objects.
#[cfg(not(Py_GIL_DISABLED))]
fn snapshot<'py>(list: &Bound<'py, PyList>) -> PyResult<Pinned<'py>> {
    loop {
        let n = list.len();
        let tuple = slots_tuple(list.py(), n)?;
        if list.len() != n {
            continue; // a finalizer changed the list: measure it again
        }
        // SAFETY: read after the last call that could run Python code; the
        // loop below runs none.
        let items = unsafe { list_items(list) };
        let mut contents = Some(Vec::with_capacity(n));
        for (i, &item) in items.iter().enumerate() {
            // SAFETY: taking a reference, reading the item's header and
            // filling a slot of our new tuple run no Python code, so the
            // list stays as read. The tuple owns the reference from here,
            // which keeps the immutable `bytes` (and its contents) alive
            // as long as the tuple.
            unsafe {
                hold(&tuple, i, item);
                if let Some(c) = contents.as_mut() {
                    match bytes_slice(item) {
                        Some(s) => c.push(s),
                        None => contents = None,
                    }
                }
            }
        }
        return Ok((tuple, contents));
    }
}

/// On free-threaded builds `PyList_AsTuple` holds the list's lock while it
/// copies, and the collector never runs inside an allocation.
#[cfg(Py_GIL_DISABLED)]
fn snapshot<'py>(list: &Bound<'py, PyList>) -> PyResult<Pinned<'py>> {
    let tuple = list.to_tuple();
    // SAFETY: the tuple (kept by the caller's Batch) owns its items.
    let contents = unsafe { bytes_contents(tuple_items(&tuple)) };
    Ok((tuple, contents))
}

/// The items of a list or tuple of `bytes`, pinned a range at a time so
/// that work on the ranges already pinned can overlap pinning the next
/// (`nmt.root`). A list's items are each given a reference, held by a
/// tuple of our own, as [`Batch`] does in one pass; a tuple's items are
/// owned by the tuple, which the call keeps. Only builds with the GIL:
/// between ranges, nothing may change the list.
#[cfg(not(Py_GIL_DISABLED))]
pub(crate) struct Pins<'py> {
    seq: Bound<'py, PyAny>,
    len: usize,
    /// For a list, the tuple holding a reference to each item pinned.
    held: Option<Bound<'py, PyTuple>>,
}

/// Why [`Pins::pin`] could not pin a range: an item that is not a `bytes`,
/// or a list whose length a finalizer changed. [`Batch`] takes over.
#[cfg(not(Py_GIL_DISABLED))]
#[derive(Debug)]
pub(crate) struct NotPinned;

#[cfg(not(Py_GIL_DISABLED))]
impl<'py> Pins<'py> {
    /// Pins for `seq` when it is exactly a list or a tuple of at least
    /// `min` items; `None` otherwise (and nothing is allocated).
    pub(crate) fn new(seq: &Bound<'py, PyAny>, min: usize) -> PyResult<Option<Self>> {
        let (len, list) = if let Ok(list) = seq.cast_exact::<PyList>() {
            (list.len(), true)
        } else if let Ok(tuple) = seq.cast_exact::<PyTuple>() {
            (tuple.len(), false)
        } else {
            return Ok(None);
        };
        if len < min {
            return Ok(None);
        }
        let held = if list { Some(slots_tuple(seq.py(), len)?) } else { None };
        Ok(Some(Pins { seq: seq.clone(), len, held }))
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Pins the items `range` and writes their contents to `slots`.
    ///
    /// # Safety
    /// From the first call to the last, the caller stays attached to the
    /// interpreter and runs no Python code (see [`list_in_place`]), so the
    /// list reads the same at every call; each range is pinned once.
    pub(crate) unsafe fn pin<'s>(
        &'s self,
        range: std::ops::Range<usize>,
        slots: &mut [&'s [u8]],
    ) -> Result<(), NotPinned> {
        let items = match &self.held {
            Some(_) => {
                // SAFETY: `seq` is a list (`new`); read its items now, not
                // when the pins were made, as a finalizer may have changed
                // it since, and see that its length is still the tuple's.
                let list = unsafe { self.seq.cast_unchecked::<PyList>() };
                if list.len() != self.len {
                    return Err(NotPinned);
                }
                // SAFETY: nothing changes the list (the caller's promise).
                unsafe { list_items(list) }
            }
            // SAFETY: `seq` is a tuple (`new`).
            None => tuple_items(unsafe { self.seq.cast_unchecked::<PyTuple>() }),
        };
        for (i, slot) in range.zip(slots) {
            let item = items[i];
            // SAFETY: a live item (above); a `bytes` is immutable, and ours
            // lives as long as its reference below (a list's item) or the
            // tuple we were given (a tuple's), both kept by `self`.
            *slot = unsafe { bytes_slice(item) }.ok_or(NotPinned)?;
            if let Some(held) = &self.held {
                // SAFETY: a live item; slot `i` of our own tuple is still
                // empty, as each range is pinned once.
                unsafe { hold(held, i, item) };
            }
        }
        Ok(())
    }
}

/// The items of a sequence of buffers, pinned for the length of a call.
///
/// A tuple snapshot of the input owns a reference to every item, so
/// another thread mutating the caller's list while we run detached cannot
/// free one. `bytes` items (immutable) are read in place; other buffers
/// are exported once and released on drop. Every item's contents are
/// found once, as the batch is made: a pass over scattered objects costs
/// a cache miss an item. (131,072 scattered 512-byte `bytes`, Intel
/// Emerald Rapids, a batch made and dropped: from a list 6.5-6.7 ms with
/// three passes, 3.7-4.4 ms with one; from a tuple 3.0-3.1 and 1.8-1.9 ms.)
pub(crate) struct Batch<'py> {
    items: Bound<'py, PyTuple>,
    _exports: Vec<ByteView<'py>>,
    /// Every item's contents, read once when the batch is made. Borrowed
    /// from `items` / `_exports`; only ever lent out for a borrow of `self`.
    slices: Vec<&'static [u8]>,
}

/// A view of `item`, item `i` of the argument `what`; an error names it.
pub(crate) fn item_view<'py>(item: &Bound<'py, PyAny>, what: &str, i: usize) -> PyResult<ByteView<'py>> {
    ByteView::new(item).map_err(|e| {
        let py = item.py();
        PyErr::from_type(e.get_type(py), format!("{what}[{i}]: {}", e.value(py)))
    })
}

impl<'py> Batch<'py> {
    /// Pins every item of `seq` (a list, tuple or other iterable of
    /// buffers). `what` names the argument in error messages.
    pub(crate) fn new(seq: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        let py = seq.py();
        if seq.is_instance_of::<PyBytes>() || seq.is_instance_of::<pyo3::types::PyString>() {
            return Err(PyTypeError::new_err(format!(
                "{what} must be a sequence of bytes-like objects, not a single {}",
                seq.get_type().name()?
            )));
        }
        let contents = |t: &Bound<'py, PyTuple>| {
            // SAFETY: the Batch keeps the tuple, which owns its items, as
            // long as it lends out the slices.
            unsafe { bytes_contents(tuple_items(t)) }
        };
        let (items, contents) = match seq.cast::<PyTuple>() {
            Ok(t) => (t.clone(), contents(t)),
            Err(_) => match seq.cast::<PyList>() {
                Ok(l) => snapshot(l)?,
                Err(_) => {
                    let it = seq.try_iter().map_err(|_| {
                        PyTypeError::new_err(format!("{what} must be a sequence of bytes-like objects"))
                    })?;
                    let t = PyTuple::new(py, it.collect::<PyResult<Vec<_>>>()?)?;
                    let c = contents(&t);
                    (t, c)
                }
            },
        };
        if let Some(slices) = contents {
            return Ok(Batch { items, _exports: Vec::new(), slices });
        }
        let mut batch = Batch { items, _exports: Vec::new(), slices: Vec::new() };
        batch.slices.reserve(batch.items.len());
        for (i, item) in batch.items.as_slice().iter().enumerate() {
            let s: &[u8] = if let Ok(b) = item.cast::<PyBytes>() {
                b.as_bytes()
            } else {
                let v = item_view(item, what, i)?;
                // SAFETY: an exported buffer stays where it is until the
                // export is released (when `v` drops, with the Batch);
                // moving `v` into `_exports` does not move that memory.
                let s = unsafe { std::slice::from_raw_parts(v.as_slice().as_ptr(), v.as_slice().len()) };
                batch._exports.push(v);
                s
            };
            // SAFETY: `s` lives as long as its item, owned by `items` (or as
            // long as its export in `_exports`); both live as long as the
            // Batch, and `slices()` lends it only for `&self`.
            batch.slices.push(unsafe { std::mem::transmute::<&[u8], &'static [u8]>(s) });
        }
        Ok(batch)
    }

    /// Every item's bytes, in order.
    pub(crate) fn slices(&self) -> &[&[u8]] {
        &self.slices
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// An item of a [`DigestList`]: a fresh 32-byte `bytes` being filled.
#[repr(transparent)]
pub(crate) struct DigestItem(*mut ffi::PyObject);

// SAFETY: the object belongs to a list no Python code has seen yet; each
// DigestItem is reached through a unique `&mut`, so exactly one thread
// writes its buffer, and writing it touches no interpreter state.
unsafe impl Send for DigestItem {}

impl DigestSlot for DigestItem {
    fn slot(&mut self) -> &mut Digest {
        // SAFETY: a live 32-byte `bytes` (made by DigestList::new) that only
        // this `&mut` reaches; see the Send impl.
        unsafe { &mut *ffi::PyBytes_AS_STRING(self.0).cast_mut().cast::<Digest>() }
    }
}

/// A new list of fresh 32-byte `bytes` whose contents Rust writes
/// (possibly while detached) before the list reaches Python code.
pub(crate) struct DigestList<'py> {
    list: Bound<'py, PyList>,
}

impl<'py> DigestList<'py> {
    /// A list of `n` fresh `bytes`, ready to be written.
    pub(crate) fn new(py: Python<'py>, n: usize) -> PyResult<Self> {
        let mut list = Self::empty(py, n)?;
        Self::alloc(py, list.slots())?;
        Ok(list)
    }

    /// A list of `n` empty slots; every slot must go through [`Self::alloc`]
    /// before it is written, and all of them before `into_list`.
    pub(crate) fn empty(py: Python<'py>, n: usize) -> PyResult<Self> {
        // SAFETY: a new list of n NULL slots (or NULL with an exception
        // set); a list dropped with slots still NULL releases only the
        // others.
        let list = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyList_New(n as ffi::Py_ssize_t)) }?;
        // SAFETY: PyList_New returned a list.
        Ok(DigestList { list: unsafe { list.cast_into_unchecked() } })
    }

    /// Puts a fresh 32-byte `bytes` in each of `slots` (empty slots of a
    /// list made by `empty`).
    pub(crate) fn alloc(py: Python<'_>, slots: &mut [DigestItem]) -> PyResult<()> {
        for slot in slots {
            debug_assert!(slot.0.is_null());
            // The list owns the new reference from here on.
            slot.0 = OutBytes::bytes(py, 32)?.obj.into_ptr();
        }
        Ok(())
    }

    /// The items to write, one per digest.
    pub(crate) fn slots(&mut self) -> &mut [DigestItem] {
        let ptr = self.list.as_ptr().cast::<ffi::PyListObject>();
        // An empty list's ob_item is NULL, which no slice may point to.
        if self.list.is_empty() {
            return &mut [];
        }
        // SAFETY: the list is ours alone (not yet returned), its ob_item
        // holds len() filled slots, and DigestItem is a transparent wrapper
        // of those pointers; `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut((*ptr).ob_item.cast::<DigestItem>(), self.list.len()) }
    }

    /// How many digests the list holds.
    #[cfg(not(Py_GIL_DISABLED))]
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The list, once every item has been written.
    pub(crate) fn into_list(self) -> Bound<'py, PyList> {
        self.list
    }
}

/// An output object and the writable bytes inside it.
pub(crate) struct OutBytes<'py> {
    pub(crate) obj: Bound<'py, PyAny>,
    ptr: *mut u8,
    len: usize,
}

impl<'py> OutBytes<'py> {
    /// A new `bytes` of `len` bytes whose contents Rust writes afterwards.
    pub(crate) fn bytes(py: Python<'py>, len: usize) -> PyResult<Self> {
        // SAFETY: a NULL source asks CPython for an uninitialised buffer of
        // `len` bytes (plus a NUL it writes itself); we fill all of it
        // before the object is handed to Python code.
        let obj = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), len as ffi::Py_ssize_t) };
        // SAFETY: a new reference or NULL with an exception set.
        let obj = unsafe { Bound::from_owned_ptr_or_err(py, obj) }?;
        Self::wrap(obj, len)
    }

    /// A new instance of `ty`, a subclass of `bytes`, of `len` bytes,
    /// allocated in place (no intermediate copy), contents written later.
    pub(crate) fn subclass(ty: &Bound<'py, PyType>, len: usize) -> PyResult<Self> {
        let py = ty.py();
        let tp = ty.as_type_ptr();
        // SAFETY: `ty` is a live type object; we only read its slot.
        let alloc = unsafe { (*tp).tp_alloc }.unwrap_or(ffi::PyType_GenericAlloc);
        // SAFETY: tp_alloc of a bytes subclass returns a zeroed object with
        // room for `len` items plus the trailing NUL, ob_size = len, and
        // the type's __dict__ slot empty, exactly as bytes.__new__ gets it.
        let raw = unsafe { alloc(tp, len as ffi::Py_ssize_t) };
        // SAFETY: a new reference or NULL with an exception set.
        let obj = unsafe { Bound::from_owned_ptr_or_err(py, raw) }?;
        // SAFETY: the caller registered `ty` as a bytes subclass (checked
        // at registration), so the object starts with a PyBytesObject. The
        // cached hash must read "not computed" (-1), as bytes.__new__ sets
        // it; zero would make hash(shard) != hash(bytes(shard)).
        #[allow(deprecated)]
        unsafe {
            (*raw.cast::<ffi::PyBytesObject>()).ob_shash = -1;
        }
        Self::wrap(obj, len)
    }

    fn wrap(obj: Bound<'py, PyAny>, len: usize) -> PyResult<Self> {
        // SAFETY: `obj` is a bytes (sub)class instance; AsString returns its
        // internal buffer of `len` bytes, valid while `obj` lives.
        let ptr = unsafe { ffi::PyBytes_AsString(obj.as_ptr()) }.cast::<u8>();
        if ptr.is_null() {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(OutBytes { obj, ptr, len })
    }

    /// The writable contents.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr`/`len` is the buffer of an object created above that
        // no Python code has seen yet, so nobody else reads or writes it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}
