namespace VirtioScope.Guest.Workloads;

/// <summary>The malformations the hostile workload injects, one request (or ring update) each.</summary>
internal enum HostileCase
{
    DescriptorLoop,
    ChainLongerThanQueue,
    NestedIndirect,
    IndirectBadLength,
    IndirectOutsideMemory,
    IndirectWithoutFeature,
    DataOutsideMemory,
    DataCrossesMemoryEnd,
    AvailIdxJump,
    HeadOutOfRange,
    HeaderDeviceWritable,
    StatusReadOnly,
    NoStatusDescriptor,
    ReadIntoReadOnlyBuffer,
    WriteFromWritableBuffer,
    LengthNotMultipleOf512,
    SectorBeyondCapacity,
    SectorOverflow,
    TooManySegments,
    SegmentOverSizeMax,
    DiscardTooManySegments,
    UnsupportedType,
    DiscardWithUnmap,
    WriteToReadOnly,
}
