using VirtioScope.Virtio.Queues;

namespace VirtioScope.Virtio.Transport;

/// <summary>Per-queue register values as the driver programmed them, and the live queue built from them.</summary>
internal sealed class QueueRegisters
{
    public ushort Num;
    public bool Ready;
    public ulong Desc;
    public ulong Driver;
    public ulong Device;
    public uint Pfn;
    public VirtQueue? Live;

    public void Reset()
    {
        Num = 0;
        Ready = false;
        Desc = Driver = Device = 0;
        Pfn = 0;
        Live = null;
    }

    public static ulong SetLow(ulong current, uint value) => (current & 0xffff_ffff_0000_0000UL) | value;

    public static ulong SetHigh(ulong current, uint value) => (current & 0xffff_ffffUL) | ((ulong)value << 32);
}
