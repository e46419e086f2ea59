using VirtioScope.Virtio;

namespace VirtioScope.Debugger.Execution;

/// <summary>The register window the guest sees: each access asks the machine for permission, then reaches the transport (or the recorder in front of it).</summary>
internal sealed class MmioGate(IMmioDevice inner, Machine machine) : IMmioDevice
{
    public uint Read(ulong offset, int width)
    {
        machine.BeforeAccess((int)Math.Min(offset, int.MaxValue), isWrite: false, value: 0);
        machine.Depth++;
        try
        {
            return inner.Read(offset, width);
        }
        finally
        {
            machine.Depth--;
        }
    }

    public void Write(ulong offset, int width, uint value)
    {
        machine.BeforeAccess((int)Math.Min(offset, int.MaxValue), isWrite: true, value);
        machine.Depth++;
        try
        {
            inner.Write(offset, width, value);
        }
        finally
        {
            machine.Depth--;
        }
    }
}
